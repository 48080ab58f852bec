// CARTO's own client against a live lds: vectorTableSource / vectorQuerySource -> TileJSON -> one tile decoded
// with @mapbox/vector-tile, query() for the SQL API, and a token without the grant refused through the client.
// Input: LDS_BASE, LDS_TOKEN, LDS_BAD_TOKEN, LDS_CASES (JSON). Output: one JSON line of figures, which the
// pytest wrapper (tests/maps/test_maps_js.py) compares with SQL run directly on the warehouses.
import {vectorTableSource, vectorQuerySource, query, CartoAPIError} from '@carto/api-client';
import {VectorTile} from '@mapbox/vector-tile';
import {PbfReader} from 'pbf';

const base = process.env.LDS_BASE;
const token = process.env.LDS_TOKEN;
const badToken = process.env.LDS_BAD_TOKEN;
const cases = JSON.parse(process.env.LDS_CASES);

async function fetchTile(tilejson, [z, x, y]) {
  // what deck.gl's CARTO layers do with a TileJSON: fill the template, send the token as a Bearer header
  const url = tilejson.tiles[0].replace('{z}', z).replace('{x}', x).replace('{y}', y);
  const res = await fetch(url, {headers: {Authorization: `Bearer ${tilejson.accessToken}`}});
  if (res.status !== 200) throw new Error(`tile ${url}: HTTP ${res.status} ${await res.text()}`);
  const buf = new Uint8Array(await res.arrayBuffer());
  const layer = new VectorTile(new PbfReader(buf)).layers.default;
  const features = [];
  for (let i = 0; i < layer.length; i++) {
    const f = layer.feature(i);
    features.push({properties: f.properties, geometry: f.toGeoJSON(x, y, z).geometry});
  }
  return {contentType: res.headers.get('content-type'), extent: layer.extent, features};
}

const out = {cases: {}};
for (const c of cases) {
  const options = {accessToken: token, apiBaseUrl: base, connectionName: c.connectionName};
  const source = c.tableName
    ? await vectorTableSource({...options, tableName: c.tableName, columns: c.columns, filters: c.filters})
    : await vectorQuerySource({...options, sqlQuery: c.sqlQuery, queryParameters: c.queryParameters,
                               filters: c.filters});
  const tile = await fetchTile(source, c.tile);
  const first = tile.features[0];
  out.cases[c.name] = {
    formatTiles: new URL(source.tiles[0]).searchParams.get('formatTiles'),
    tilestatsCount: source.tilestats.layers[0].count,
    schema: source.schema.map((f) => f.name),
    fields: source.vector_layers[0].fields,
    hasWidgetSource: typeof source.widgetSource === 'object',
    contentType: tile.contentType,
    extent: tile.extent,
    count: tile.features.length,
    ids: tile.features.map((f) => f.properties.id).sort((a, b) => a - b),
    propertyNames: Object.keys(first.properties).sort(),
    firstProperties: first.properties,
    geometryTypes: [...new Set(tile.features.map((f) => f.geometry.type))],
    firstCoordinates: first.geometry.coordinates,
  };
}

const sql = await query({accessToken: token, apiBaseUrl: base, connectionName: cases[0].connectionName,
                         sqlQuery: 'SELECT count(*) AS n FROM geo.places WHERE kind = $1', queryParameters: ['cafe']});
out.query = {rows: sql.rows, schema: sql.schema};

async function refusal(fn) {
  try {
    await fn();
    return {refused: false};
  } catch (e) {
    return {refused: e instanceof CartoAPIError, status: e.response?.status, message: e.message};
  }
}
const bad = {accessToken: badToken, apiBaseUrl: base, connectionName: cases[0].connectionName};
out.refusedTable = await refusal(() => vectorTableSource({...bad, tableName: 'geo.places'}));
out.refusedQuery = await refusal(() => query({...bad, sqlQuery: 'SELECT * FROM geo.places'}));
console.log(JSON.stringify(out));
