// CARTO's own client against a live lds for spatial-index sources: h3TableSource / quadbinTableSource (and
// their query twins) -> TileJSON -> one tile named by a cell ({i}), decoded as deck.gl's CartoSpatialTileLoader
// reads CARTO's binary spatial tile; every cell checked with h3-js / quadbin to lie in the tile; the source's
// widgetSource computing a formula, with and without a polygon spatial filter.
// Input: LDS_BASE, LDS_TOKEN, LDS_CASES (JSON). Output: one JSON line the pytest wrapper
// (tests/maps/test_cells_js.py) compares with SQL and with aggregates computed in Python.
import {h3TableSource, h3QuerySource, quadbinTableSource, quadbinQuerySource} from '@carto/api-client';
import {PbfReader} from 'pbf';
import {cellToParent as h3Parent, getResolution as h3Resolution} from 'h3-js';
import {bigIntToHex, cellToParent as quadbinParent, getResolution as quadbinResolution, hexToBigInt} from 'quadbin';

const base = process.env.LDS_BASE;
const token = process.env.LDS_TOKEN;
const cases = JSON.parse(process.env.LDS_CASES);

// the protobuf of deck.gl's carto-spatial-tile.ts: Tile {1 scheme, 2 Cells {1 Ints, 2 Properties, 3 numeric}}
function readFixed64(pbf) {
  const low = BigInt(pbf.readFixed32());
  const high = BigInt(pbf.readFixed32());
  return low + high * 4294967296n;
}
function readInts(pbf, end) {
  return pbf.readFields((tag, obj, p) => {
    if (tag === 1) {
      const stop = p.readVarint() + p.pos;
      while (p.pos < stop) obj.value.push(readFixed64(p));
    }
  }, {value: []}, end);
}
function readNumeric(pbf, end) {
  return pbf.readFields((tag, obj, p) => {
    if (tag === 1) obj.key = p.readString();
    else if (tag === 2) obj.value = p.readFields((t, o, q) => { if (t === 1) q.readPackedDouble(o.value); },
                                                   {value: []}, p.readVarint() + p.pos);
  }, {key: '', value: null}, end);
}
function decodeSpatialTile(buf) {
  const pbf = new PbfReader(buf);
  return pbf.readFields((tag, tile, p) => {
    if (tag === 1) tile.scheme = p.readVarint();
    else if (tag === 2) {
      tile.cells = p.readFields((t, cells, q) => {
        if (t === 1) cells.indices = readInts(q, q.readVarint() + q.pos).value;
        else if (t === 3) {
          const entry = readNumeric(q, q.readVarint() + q.pos);
          cells.numericProps[entry.key] = entry.value.value;
        } else q.skip(t);
      }, {indices: [], numericProps: {}}, p.readVarint() + p.pos);
    }
  }, {scheme: 0, cells: null});
}

function quadbinAncestor(cell, res) {  // quadbin 0.4's cellToParent climbs one level
  while (quadbinResolution(cell) > res) cell = quadbinParent(cell);
  return cell;
}

const out = {cases: {}};
for (const c of cases) {
  const options = {accessToken: token, apiBaseUrl: base, connectionName: c.connectionName,
                   spatialDataColumn: c.column, aggregationExp: c.aggregationExp,
                   aggregationResLevel: c.aggregationResLevel};
  const isH3 = c.type === 'h3';
  const source = c.tableName
    ? await (isH3 ? h3TableSource : quadbinTableSource)({...options, tableName: c.tableName})
    : await (isH3 ? h3QuerySource : quadbinQuerySource)({...options, sqlQuery: c.sqlQuery,
                                                          queryParameters: c.queryParameters});
  // what deck.gl's H3TileLayer / QuadbinTileLayer do: fill {i} with the tile cell's hex id, Bearer token
  const url = source.tiles[0].replace('{i}', c.tile);
  const res = await fetch(url, {headers: {Authorization: `Bearer ${source.accessToken}`}});
  if (res.status !== 200) throw new Error(`tile ${url}: HTTP ${res.status} ${await res.text()}`);
  const tile = decodeSpatialTile(new Uint8Array(await res.arrayBuffer()));
  const ids = tile.cells.indices.map((v) => (isH3 ? v.toString(16) : bigIntToHex(v)));
  const tileRes = isH3 ? h3Resolution(c.tile) : Number(quadbinResolution(hexToBigInt(c.tile)));
  const inTile = ids.every((id) => isH3
    ? h3Parent(id, tileRes) === c.tile
    : bigIntToHex(quadbinAncestor(hexToBigInt(id), BigInt(tileRes))) === c.tile);
  const cellRes = [...new Set(ids.map((id) => (isH3 ? h3Resolution(id) : Number(quadbinResolution(hexToBigInt(id))))))];
  const cells = {};
  ids.forEach((id, i) => {
    cells[id] = Object.fromEntries(Object.entries(tile.cells.numericProps).map(([k, v]) => [k, v[i]]));
  });
  const widget = source.widgetSource;
  const total = await widget.getFormula({column: c.formulaColumn, operation: 'sum'});
  const inPolygon = await widget.getFormula({column: c.formulaColumn, operation: 'count',
                                             spatialFilter: c.polygon, spatialFiltersMode: 'center'});
  out.cases[c.name] = {
    tilesTemplate: source.tiles[0],
    minresolution: source.minresolution,
    maxresolution: source.maxresolution,
    tilestatsCount: source.tilestats.layers[0].count,
    fields: source.vector_layers[0].fields,
    schema: source.schema.map((f) => f.name),
    contentType: res.headers.get('content-type'),
    scheme: tile.scheme,
    inTile,
    cellRes,
    cells,
    formulaSum: total.value,
    formulaPolygonCount: inPolygon.value,
  };
}
console.log(JSON.stringify(out));
