// CARTO's own widget sources against a live lds: the widgetSource of vectorTableSource / vectorQuerySource (what
// an app's widgets use) computes a formula, categories, a histogram, a time series, a range, a table page, a
// scatter plot and aggregations through the SQL Model API; a WidgetTableSource with a token lacking the grant is
// refused. Input: LDS_BASE, LDS_TOKEN, LDS_BAD_TOKEN, LDS_SOURCES (JSON). Output: one JSON line of figures, which
// the pytest wrapper (tests/models/test_widgets_js.py) compares with the same figures computed directly in SQL.
import {vectorTableSource, vectorQuerySource, WidgetTableSource} from '@carto/api-client';

const base = process.env.LDS_BASE;
const token = process.env.LDS_TOKEN;
const badToken = process.env.LDS_BAD_TOKEN;
const sources = JSON.parse(process.env.LDS_SOURCES);

const NORTH_EAST = {zone: {in: {values: ['north', 'east']}}};
const AREA = {type: 'Polygon', coordinates: [[[7.3, 43.7], [7.5, 43.7], [7.5, 43.7301], [7.3, 43.7301], [7.3, 43.7]]]};
// a filter long enough that executeModel's URL passes 2048 characters: the client switches to POST
const MANY_IDS = {id: {in: {values: Array.from({length: 400}, (_, i) => i * 3)}}};

async function figures(widgets) {
  // the same source with filtersLogicalOperator 'or' (a source property in the client, not a per-call option)
  const orWidgets = new widgets.constructor({...widgets.props, filtersLogicalOperator: 'or'});
  return {
    sum: await widgets.getFormula({column: 'amount', operation: 'sum'}),
    countNorthEast: await widgets.getFormula({operation: 'count', filters: NORTH_EAST}),
    countOr: await orWidgets.getFormula({operation: 'count', filters: {zone: {in: {values: ['north']}},
                                                                      amount: {between: {values: [[40, 49]]}}}}),
    countInArea: await widgets.getFormula({operation: 'count', spatialFilter: AREA}),
    countManyIds: await widgets.getFormula({operation: 'count', filters: MANY_IDS}),
    custom: await widgets.getFormula({operation: 'custom', operationExp: 'sum(amount) / count(*)'}),
    categories: await widgets.getCategories({column: 'zone', operation: 'sum', operationColumn: 'amount'}),
    categoriesTop2: await widgets.getCategories({column: 'zone', operation: 'count', othersThreshold: 2,
                                                 orderBy: 'alphabetical_asc'}),
    histogram: await widgets.getHistogram({column: 'amount', ticks: [10, 20, 30, 40], operation: 'count'}),
    timeSeries: await widgets.getTimeSeries({column: 'ts', stepSize: 'month', operation: 'sum',
                                             operationColumn: 'amount'}),
    timeSeriesSplit: await widgets.getTimeSeries({column: 'ts', stepSize: 'week', stepMultiplier: 2,
                                                  operation: 'count', splitByCategory: 'zone',
                                                  splitByCategoryValues: ['south', 'west']}),
    range: await widgets.getRange({column: 'amount', filters: {zone: {stringSearch: {values: ['NOR']}}}}),
    table: await widgets.getTable({columns: ['id', 'zone', 'amount'], sortBy: 'id', sortDirection: 'desc',
                                   limit: 5, offset: 2, filters: NORTH_EAST}),
    scatter: await widgets.getScatter({xAxisColumn: 'id', yAxisColumn: 'amount'}),
    aggregations: await widgets.getAggregations({aggregations: [
      {column: 'amount', operation: 'avg', alias: 'mean'}, {column: 'id', operation: 'max', alias: 'last'}]}),
  };
}

const out = {sources: {}};
for (const s of sources) {
  const options = {accessToken: token, apiBaseUrl: base, connectionName: s.connectionName};
  const mapSource = s.tableName
    ? await vectorTableSource({...options, tableName: s.tableName})
    : await vectorQuerySource({...options, sqlQuery: s.sqlQuery, queryParameters: s.queryParameters});
  out.sources[s.name] = {kind: mapSource.widgetSource.constructor.name, ...(await figures(mapSource.widgetSource))};
}

const refused = new WidgetTableSource({accessToken: badToken, apiBaseUrl: base,
                                       connectionName: sources[0].connectionName, tableName: sources[0].tableName});
try {
  await refused.getFormula({operation: 'count'});
  out.refused = {refused: false};
} catch (err) {
  out.refused = {refused: true, message: String(err.message)};
}
console.log(JSON.stringify(out));
