// Preloaded into `node-red-dev validate` (scripts/scorecard.ts): answers its request for the Flow
// Library catalogue, which this machine cannot reach, with an empty catalogue. Every other request
// goes out unchanged.
const Module = require('node:module');

const CATALOGUE = 'https://catalogue.nodered.org/catalogue.json';
const load = Module._load;
Module._load = function (request, parent, isMain) {
  const loaded = load.call(this, request, parent, isMain);
  if (request !== 'axios' || loaded.__offlineCatalogue) return loaded;
  const get = loaded.get.bind(loaded);
  loaded.get = (url, ...rest) =>
    url === CATALOGUE ? Promise.resolve({ status: 200, data: { modules: [] } }) : get(url, ...rest);
  loaded.__offlineCatalogue = true;
  return loaded;
};
