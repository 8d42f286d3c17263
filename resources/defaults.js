/**
 * The settings a new node of each type starts with (the values of its `defaults`), written once for
 * both sides: the editor builds each node's `defaults` from them (resources/editor.js), and the
 * runtime (nodes/lib/defaults.ts) gives a stored node that lacks a setting (a flow written by hand
 * or by an older version) this value, so that it behaves as if today's editor had saved it.
 */
/* global window */
(function () {
  /** Where and when a face was seen (nodes/lib/sighting.ts): publish's and recognize's alike. */
  const SIGHTING = {
    detectorName: '',
    detectorNameType: 'str',
    ianaTimeZone: '',
    ianaTimeZoneType: 'str',
    detectTime: 'detectTime',
    detectTimeType: 'msg',
  };
  const defaults = {
    'identities-config': {
      name: '',
      baseUrl: '',
      allowHttp: false,
      tls: '',
      proxy: '',
      timeout: 30,
      maxConcurrent: 4,
      queueLength: 100,
      overflow: 'error',
      maxAge: 60,
      // The outbox for fire-and-forget detections (nodes/lib/outbox.ts): off unless chosen; 100 MB
      // holds 500-2,000 camera images, a day covers an outage over a weekend night.
      outbox: false,
      outboxMaxMB: 100,
      outboxMaxAge: 24,
      outboxAdopt: false,
      version: 1,
    },
    'identities-publish': {
      name: '',
      server: '',
      version: 1,
      mode: 'withResponse',
      split: 'all',
      separateOutputs: false,
      outputs: 1,
      image: 'payload',
      imageType: 'msg',
      ...SIGHTING,
      // eConnect's advice for a camera at a door; the API's own default is false.
      largestFaceOnly: 'true',
      largestFaceOnlyType: 'bool',
      allowDoubleDetection: 'false',
      allowDoubleDetectionType: 'bool',
      includePerson: 'false',
      includePersonType: 'bool',
      includeNames: 'false',
      includeNamesType: 'bool',
      includeAddresses: 'false',
      includeAddressesType: 'bool',
      includeTags: 'false',
      includeTagsType: 'bool',
      includeFields: 'false',
      includeFieldsType: 'bool',
    },
    'identities-recognize': {
      name: '',
      server: '',
      version: 1,
      image: 'payload',
      imageType: 'msg',
      ...SIGHTING,
      embeddings: 'embeddings',
      embeddingsType: 'msg',
      recognitionModel: '',
      recognitionModelType: 'str',
    },
    'identities-lookup': {
      name: '',
      server: '',
      version: 1,
      image: 'payload',
      imageType: 'msg',
      embeddings: 'embeddings',
      embeddingsType: 'msg',
      recognitionModel: '',
      recognitionModelType: 'str',
    },
    'identities-enroll': {
      name: '',
      server: '',
      version: 1,
      operation: 'faceEnroll',
      image: 'payload',
      imageType: 'msg',
      personId: 'personId',
      personIdType: 'msg',
      forceEnrollment: 'false',
      forceEnrollmentType: 'bool',
      photoReferenceId: 'photoReferenceId',
      photoReferenceIdType: 'msg',
    },
    'identities-compare': {
      name: '',
      server: '',
      version: 1,
      image1: 'payload',
      image1Type: 'msg',
      image2: 'image2',
      image2Type: 'msg',
    },
    'identities-detect': {
      name: '',
      server: '',
      version: 1,
      image: 'payload',
      imageType: 'msg',
    },
    'identities-people': {
      name: '',
      server: '',
      version: 1,
      operation: 'getPerson',
    },
    'identities-tags': {
      name: '',
      server: '',
      version: 1,
      operation: 'listTags',
    },
  };
  if (typeof module === 'object' && module.exports) module.exports = defaults;
  else window.econnectIdentitiesDefaults = defaults;
})();
