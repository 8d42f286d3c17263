/**
 * Editor code every identities node shares, loaded by each node's .html with
 * <script src="resources/node-red-contrib-econnect-identities/editor.js"> after defaults.js. Node-RED
 * runs a node set's own scripts only once the scripts it loads this way have run, so registerType
 * may use it at once; each node set loads it again (the order in which node sets arrive is not
 * guaranteed), and the first copy to run is the one kept.
 */
/* global window, $, RED */
(function () {
  if (window.econnectIdentitiesEditor) return;

  var SHARED = 'node-red-contrib-econnect-identities/identities-config:identities.';

  /** TypedInput types per kind of setting. */
  var TYPED_TYPES = {
    image: ['msg', 'flow', 'global'],
    text: ['str', 'msg', 'flow', 'global', 'env'],
    id: ['msg', 'flow', 'global', 'str', 'env'],
    flag: ['bool', 'msg', 'flow', 'global', 'env'],
    time: ['msg', 'flow', 'global', 'date', 'jsonata'],
    numbers: ['msg', 'flow', 'global', 'json'],
  };

  /** Where and when a face was seen: publish and recognize ask the same, with the same defaults. */
  var SIGHTING_ROWS = [
    { name: 'detectorName', kind: 'text', icon: 'fa-video-camera' },
    { name: 'ianaTimeZone', kind: 'text', icon: 'fa-globe', placeholder: true },
    { name: 'detectTime', kind: 'time', icon: 'fa-clock-o' },
  ];

  /** A detector name is required: a fixed one must not be blank (one from msg is checked per message). */
  function validDetectorName(value) {
    var type = $('#node-input-detectorNameType').val() || this.detectorNameType;
    return type !== 'str' || (value || '').trim() !== '';
  }

  var editor = {
    /**
     * A node type's `defaults`: the values of resources/defaults.js (which the runtime also uses for
     * settings a stored node lacks), each with what `extras` adds to it (a validator); the server is
     * the required identities-config node.
     */
    defaults: function (type, extras) {
      var values = window.econnectIdentitiesDefaults[type];
      var defaults = {};
      Object.keys(values).forEach(function (name) {
        defaults[name] = $.extend({ value: values[name] }, extras && extras[name]);
      });
      if (defaults.server) defaults.server = { value: '', type: 'identities-config', required: true };
      return defaults;
    },

    /** Registers a flow node with what every identities node has: category, colour, icon, labels, defaults. */
    register: function (type, definition) {
      RED.nodes.registerType(
        type,
        $.extend(
          {
            category: 'identities',
            color: '#8DC3E0',
            inputs: 1,
            outputs: 1,
            icon: type + '.svg',
            paletteLabel: function () {
              return this._(type + '.paletteLabel');
            },
            label: function () {
              return this.name || this._(type + '.paletteLabel');
            },
            labelStyle: function () {
              return this.name ? 'node_label_italic' : '';
            },
          },
          definition,
          { defaults: editor.defaults(type, definition.defaults) },
        ),
      );
    },

    /** The validators of the sighting settings, for a node's `defaults` extras. */
    sightingDefaults: {
      detectorName: { validate: validDetectorName },
    },

    /**
     * Builds a TypedInput row per field into `container` (the template holds no copies of them):
     * `#node-input-<name>` holds the value and `#node-input-<name>Type` the type, which is where
     * Node-RED reads them on save. A field is { name, kind (a key of TYPED_TYPES), icon, and
     * optionally label (a key in the node's catalog; <type>.label.<name> by default), placeholder
     * (true: <type>.placeholder.<name>) and when (see toggleRows) }. `'sighting'` in the list stands for the detector,
     * time zone and detection time rows.
     */
    typedRows: function (node, container, fields) {
      var rows = [];
      fields.forEach(function (field) {
        rows = rows.concat(field === 'sighting' ? SIGHTING_ROWS : [field]);
      });
      rows.forEach(function (field) {
        var row = $('<div class="form-row"></div>').appendTo(container);
        if (field.when) row.attr('data-identities-when', field.when);
        var label = $('<label></label>')
          .attr('for', 'node-input-' + field.name)
          .appendTo(row);
        $('<i></i>')
          .addClass('fa ' + (field.icon || 'fa-angle-right'))
          .appendTo(label);
        $('<span></span>')
          .text(' ' + node._(field.label || node.type + '.label.' + field.name))
          .appendTo(label);
        var input = $('<input type="text" style="width:70%">').attr('id', 'node-input-' + field.name);
        var type = $('<input type="hidden">').attr('id', 'node-input-' + field.name + 'Type');
        // A flow written by hand or by an older version may lack the property: show the default, not a blank.
        var stored = function (name) {
          var defaults = node._def.defaults[name];
          return node[name] !== undefined ? node[name] : defaults && defaults.value;
        };
        input.val(stored(field.name)).appendTo(row);
        type.val(stored(field.name + 'Type')).appendTo(row);
        input.typedInput({ types: TYPED_TYPES[field.kind], typeField: type });
        if (field.placeholder) input.attr('placeholder', node._(node.type + '.placeholder.' + field.name));
      });
    },

    /**
     * Fills the operation select from `groups` ({ groupName: [operation, ...] }; '' for no group)
     * plus "set by msg.operation", selects the node's operation, and keeps `hint` telling what
     * the chosen operation reads from the message (<type>.needs.<operation>).
     */
    operationSelect: function (node, select, groups, hint) {
      var list = $(select).empty();
      Object.keys(groups).forEach(function (group) {
        var parent = group
          ? $('<optgroup></optgroup>')
              .attr('label', node._(node.type + '.group.' + group))
              .appendTo(list)
          : list;
        groups[group].forEach(function (operation) {
          $('<option></option>')
            .val(operation)
            .text(node._(node.type + '.operation.' + operation))
            .appendTo(parent);
        });
      });
      $('<option value="msg"></option>')
        .text(node._(SHARED + 'label.fromMsg'))
        .appendTo(list);
      list.val(node.operation);
      list
        .on('change', function () {
          $(hint).text(node._(node.type + '.needs.' + list.val()));
        })
        .trigger('change');
    },

    /** The label of a node that runs one of several operations: its name, else its operation's. */
    operationLabel: function () {
      if (this.name) return this.name;
      if (this.operation === 'msg') return this._(this.type + '.paletteLabel');
      return this._(this.type + '.operation.' + this.operation);
    },

    /** Shows the rows marked `data-identities-when="<values>"` only while the select has one of those values. */
    toggleRows: function (select) {
      $(select)
        .on('change', function () {
          var value = $(this).val();
          $(this)
            .closest('form')
            .find('[data-identities-when]')
            .each(function () {
              var shown = $(this).attr('data-identities-when').split(' ').indexOf(value) >= 0;
              $(this).toggle(shown);
            });
        })
        .trigger('change');
    },

    /**
     * recognize and lookup: one face in, the person on output 1, "no face or no match" on output 2;
     * recognize also says where and when the face was seen (`sighting`), as publish does.
     */
    registerFaceMatch: function (type, sighting) {
      var fields = [{ name: 'image', kind: 'image', icon: 'fa-picture-o' }];
      if (sighting) fields.push('sighting');
      fields.push(
        { name: 'embeddings', kind: 'numbers', icon: 'fa-list-ol' },
        { name: 'recognitionModel', kind: 'text', icon: 'fa-cube' },
      );
      editor.register(type, {
        outputs: 2,
        defaults: $.extend(
          {
            image: { validate: RED.validators.typedInput('imageType') },
            embeddings: { validate: RED.validators.typedInput('embeddingsType') },
          },
          sighting ? editor.sightingDefaults : {},
        ),
        outputLabels: function (index) {
          return this._(type + '.outputs.' + (index === 0 ? 'match' : 'noMatch'));
        },
        oneditprepare: function () {
          editor.typedRows(this, '#' + type + '-inputs', fields);
        },
      });
    },
  };

  window.econnectIdentitiesEditor = editor;
})();
