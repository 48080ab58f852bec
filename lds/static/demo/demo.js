// The lds demo map: every call goes to this server's public API with the token typed in the panel.
// MapLibre GL JS draws; h3-js turns the H3 isolines' cell ids into hexagons. Nothing here needs the internet.
/* global maplibregl, h3 */

const cfg = JSON.parse(document.getElementById('lds-config').textContent);
const OSM = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';
const COLORS = ['#1a9850', '#91cf60', '#fee08b', '#fc8d59', '#d73027'];  // shortest range first
const $ = (id) => document.getElementById(id);
const state = {basemap: null, clicks: [], requests: 0, errors: []};

// --- the API -----------------------------------------------------------------------------------------------
const tokenInput = $('token');
tokenInput.value = new URLSearchParams(location.search).get('access_token') || localStorage.getItem('lds-token') || '';

function authHeaders() {
  const token = tokenInput.value.trim();
  return token ? {Authorization: `Bearer ${token}`} : {};
}

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
  if (isError) state.errors.push(text);
}

async function api(path, params = {}) {
  const url = new URL(path, location.href);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  state.requests += 1;
  const res = await fetch(url, {headers: authHeaders()});
  const body = await res.json().catch(() => ({error: `HTTP ${res.status}`}));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

// CARTO's LDS envelope: [{"error": null | message, "value": ...}]
function value(body) {
  if (body[0].error) throw new Error(body[0].error);
  return body[0].value;
}

const fmt = {
  m: (m) => (m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`),
  s: (s) => (s >= 60 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`),
};

// --- the map -----------------------------------------------------------------------------------------------
const emptyStyle = {version: 8, sources: {}, layers: [{id: 'background', type: 'background',
  paint: {'background-color': '#f2efe9'}}]};

async function reachableStyle(url) {
  if (!url) return null;
  try {
    const res = await fetch(url, {signal: AbortSignal.timeout(3000)});
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}

const externalStyle = await reachableStyle(cfg.basemap_style);
const map = new maplibregl.Map({
  container: 'map',
  style: externalStyle || emptyStyle,
  bounds: cfg.bbox || [-180, -80, 180, 80],
  fitBoundsOptions: {padding: 20},
  attributionControl: {compact: false, customAttribution: OSM},
  // the Maps API's TileJSON and tiles come from this server: send them the token as a header
  transformRequest: (url) => (url.startsWith(location.origin) ? {url, headers: authHeaders()} : {url}),
});
map.addControl(new maplibregl.NavigationControl(), 'top-right');
map.addControl(new maplibregl.ScaleControl(), 'bottom-left');
window.ldsDemo = {map, state, cfg};

const empty = () => ({type: 'FeatureCollection', features: []});

function addOverlays() {
  for (const id of ['isolines', 'route', 'points']) map.addSource(id, {type: 'geojson', data: empty()});
  map.addLayer({id: 'isolines-fill', type: 'fill', source: 'isolines',
    paint: {'fill-color': ['get', 'color'], 'fill-opacity': 0.45}});
  map.addLayer({id: 'isolines-line', type: 'line', source: 'isolines',
    paint: {'line-color': ['get', 'color'], 'line-width': ['case', ['==', ['get', 'kind'], 'h3'], 0.3, 1.5]}});
  map.addLayer({id: 'route-line', type: 'line', source: 'route', layout: {'line-cap': 'round', 'line-join': 'round'},
    paint: {'line-color': '#2060d0', 'line-width': 5, 'line-opacity': 0.85}});
  map.addLayer({id: 'points', type: 'circle', source: 'points',
    paint: {'circle-radius': 6, 'circle-color': ['get', 'color'], 'circle-stroke-color': '#fff',
            'circle-stroke-width': 2}});
}

// The extract's own roads, through the Maps API (source -> TileJSON -> vector tiles), under the overlays.
async function addRoads() {
  if (externalStyle || map.getSource('roads') || (cfg.auth && !tokenInput.value.trim())) return;
  try {
    const source = await api(`/v3/maps/${cfg.roads.connection}/table`, {name: cfg.roads.table});
    const tilejson = await api(source.tilejson.url[0]);
    if (map.getSource('roads')) return;
    map.addSource('roads', {type: 'vector', tiles: tilejson.tiles, minzoom: tilejson.minzoom,
      maxzoom: tilejson.maxzoom, attribution: OSM});
    map.addLayer({id: 'roads', type: 'line', source: 'roads', 'source-layer': 'default',
      layout: {'line-cap': 'round', 'line-join': 'round'},
      paint: {'line-color': '#a7adb8', 'line-width': ['interpolate', ['linear'], ['zoom'], 12, 0.5, 17, 4]}},
    'isolines-fill');
    state.basemap = 'roads';
  } catch (err) {
    status(`basemap: ${err.message} (the extract's roads need a token with the maps API)`, true);
  }
}

// --- geocode -----------------------------------------------------------------------------------------------
function setPoints(points) {
  map.getSource('points').setData({type: 'FeatureCollection', features: points.map(([lon, lat, color]) => ({
    type: 'Feature', properties: {color}, geometry: {type: 'Point', coordinates: [lon, lat]}}))});
}

$('search-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const list = $('candidates');
  list.replaceChildren();
  const address = $('search').value.trim();
  if (!address) return;
  status('searching...');
  try {
    const body = await api('/v3/lds/geocoding/geocode', {address, limit: 5});
    const found = body[0].error ? [] : body[0].value;
    for (const c of found) {
      const li = document.createElement('li');
      li.textContent = c.formattedAddress;
      const badge = document.createElement('span');
      badge.className = 'match';
      badge.textContent = `${c.matchType} ${Math.round(c.matchConfidence * 100)}%`;
      li.append(badge);
      li.dataset.matchType = c.matchType;
      li.addEventListener('click', () => map.flyTo({center: [c.longitude, c.latitude], zoom: 17}));
      list.append(li);
    }
    setPoints(found.map((c, i) => [c.longitude, c.latitude, i === 0 ? '#d03050' : '#7a8699']));
    if (found.length) {
      const b = new maplibregl.LngLatBounds();
      found.forEach((c) => b.extend([c.longitude, c.latitude]));
      map.fitBounds(b, {padding: 80, maxZoom: 16});
    }
    status(found.length ? `${found.length} candidate(s)` : body[0].error || 'no result');
  } catch (err) {
    status(`geocode: ${err.message}`, true);
  }
});

// --- clicks: reverse, route, isoline -----------------------------------------------------------------------
const tool = () => document.querySelector('input[name=tool]:checked').value;
const show = (id) => ['reverse-result', 'route-result', 'isoline-result'].forEach((s) => { $(s).hidden = s !== id; });

async function reverse({lng, lat}) {
  setPoints([[lng, lat, '#d03050']]);
  const body = await api('/v3/lds/geocoding/reverse', {lat: lat.toFixed(6), lon: lng.toFixed(6)});
  const out = $('reverse-result');
  show('reverse-result');
  if (body[0].error) {
    out.textContent = body[0].error;
    return;
  }
  const c = body[0].value[0];
  out.replaceChildren();
  const line = document.createElement('p');
  line.id = 'reverse-address';
  line.textContent = c.formattedAddress;
  const badge = document.createElement('span');
  badge.className = 'match';
  badge.textContent = `${c.matchType}${c.distance != null ? `, ${fmt.m(c.distance)} away` : ''}`;
  line.append(badge);
  out.append(line);
}

async function route(lngLat) {
  state.clicks = state.clicks.length >= 2 ? [] : state.clicks;
  state.clicks.push([lngLat.lng, lngLat.lat]);
  setPoints(state.clicks.map((p, i) => [...p, i ? '#d03050' : '#20a060']));
  if (state.clicks.length < 2) {
    map.getSource('route').setData(empty());
    status('now click the destination');
    return;
  }
  const [o, d] = state.clicks.map((p) => p.map((x) => x.toFixed(6)).join(','));
  const [r] = value(await api('/v3/lds/routing', {origin: o, destination: d, mode: $('mode').value}));
  map.getSource('route').setData({type: 'Feature', properties: {}, geometry: r.geom});
  map.getSource('isolines').setData(empty());
  $('route-summary').textContent = `${fmt.m(r.distance)}, ${fmt.s(r.duration)} by ${r.mode}`;
  $('steps').replaceChildren(...r.steps.map((s) => {
    const li = document.createElement('li');
    li.textContent = `${s.instruction} (${fmt.m(s.distance)})`;
    return li;
  }));
  show('route-result');
}

async function isolines({lng, lat}) {
  setPoints([[lng, lat, '#20a060']]);
  const h3Cells = $('iso-kind').value === 'h3';
  const params = {origin: `${lng.toFixed(6)},${lat.toFixed(6)}`, range: $('ranges').value.replace(/\s/g, ''),
    range_type: $('range-type').value, mode: $('mode').value};
  if (h3Cells) params.resolution = $('resolution').value;
  const items = value(await api(h3Cells ? '/v3/lds/isolines/h3' : '/v3/lds/isolines', params));
  const order = items.map((it, i) => i).sort((a, b) => items[a].range - items[b].range);
  const color = (i) => COLORS[Math.min(order.indexOf(i), COLORS.length - 1)];
  const features = [];
  if (h3Cells) {  // nested: each cell drawn once, in the colour of the shortest range holding it
    const seen = new Set();
    for (const i of order) {
      for (const cell of items[i].cells) {
        if (seen.has(cell.h3)) continue;
        seen.add(cell.h3);
        const ring = h3.cellToBoundary(cell.h3, true);
        features.push({type: 'Feature', properties: {kind: 'h3', range: items[i].range, cost: cell.cost,
          color: color(i)}, geometry: {type: 'Polygon', coordinates: [ring]}});
      }
    }
  } else {  // largest first, so the shorter ranges lie on top
    for (const i of [...order].reverse()) {
      features.push({type: 'Feature', properties: {kind: 'polygon', range: items[i].range, color: color(i)},
        geometry: items[i].geom});
    }
  }
  map.getSource('isolines').setData({type: 'FeatureCollection', features});
  map.getSource('route').setData(empty());
  state.clicks = [];
  const unit = params.range_type === 'time' ? fmt.s : fmt.m;
  $('isoline-legend').replaceChildren(...order.map((i) => {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.style.background = color(i);
    li.append(swatch, `${unit(items[i].range)} ${items[i].mode}${h3Cells ? `: ${items[i].cells.length} cells` : ''}`);
    return li;
  }));
  show('isoline-result');
}

map.on('click', async (event) => {
  const action = {reverse, route, isoline: isolines}[tool()];
  status('...');
  try {
    await action(event.lngLat);
    status('');
  } catch (err) {
    status(`${tool()}: ${err.message}`, true);
  }
});

// --- controls ----------------------------------------------------------------------------------------------
$('mode').replaceChildren(...cfg.modes.map((m) => new Option(m, m)));
$('resolution').value = cfg.h3_resolution;
$('resolution').max = cfg.h3_max_resolution;
tokenInput.addEventListener('change', () => {
  localStorage.setItem('lds-token', tokenInput.value.trim());
  addRoads();
});

map.on('load', () => {
  addOverlays();
  addRoads();
  state.ready = true;
});
