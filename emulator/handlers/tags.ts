/** Tags and entity field settings: the emulator's configuration-like records. */
import { randomUUID } from 'node:crypto';
import type { components } from '../../client/generated/identities';
import { HttpError, pathParam, type Handler, type RequestContext } from '../http';
import type { Services } from '../services';

type Schemas = components['schemas'];
type TagOperation =
  | 'listTags'
  | 'createTag'
  | 'getTag'
  | 'updateTag'
  | 'deleteTag'
  | 'setStringFieldSetting'
  | 'setDatetimeFieldSetting';

export function tagHandlers(services: Services): Record<TagOperation, Handler> {
  const { store } = services;

  const saveTag = (tagId: string, ctx: RequestContext) => {
    const { name, description = null, defaultExpiryDays = null } = ctx.body as Schemas['TagRequest'];
    const clash = store.tagByName(name);
    if (clash && clash.tagId !== tagId) throw new HttpError(400, `a tag named "${name}" exists already`);
    return { json: store.saveTag({ tagId, name, description, defaultExpiryDays }) };
  };

  const saveSetting =
    (fieldType: 'string' | 'datetime'): Handler =>
    (ctx) => {
      const { entityType, fieldId } = ctx.path as { entityType: string; fieldId: string };
      const body = ctx.body as Schemas['StringFieldSettingRequest'] & Schemas['DatetimeFieldSettingRequest'];
      const common = { entityType, fieldId, fieldType, name: body.name, label: body.label ?? null };
      return {
        json: store.saveFieldSetting(
          fieldType === 'string'
            ? { ...common, required: body.required ?? false, maxLength: body.maxLength ?? null }
            : { ...common, required: body.required ?? false, dateOnly: body.dateOnly ?? false },
        ),
      };
    };

  return {
    listTags: () => ({ json: store.allTags() }),
    createTag: (ctx) => saveTag(randomUUID(), ctx),
    getTag: (ctx) => ({ json: store.tag(pathParam(ctx, 'tagId')) }),
    updateTag: (ctx) => saveTag(store.tag(pathParam(ctx, 'tagId')).tagId, ctx),
    deleteTag: (ctx) => {
      store.deleteTag(pathParam(ctx, 'tagId'));
      return { empty: true };
    },
    setStringFieldSetting: saveSetting('string'),
    setDatetimeFieldSetting: saveSetting('datetime'),
  };
}
