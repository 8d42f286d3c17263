/** Tags and entity field settings: the emulator's configuration-like records. */
import { randomUUID } from 'node:crypto';
import type { components } from '../../client/generated/identities';
import { HttpError, pathParam, type Handler, type RequestContext } from '../http';
import type { Services } from '../services';
import { NO_EXPIRY, parsePeriod } from '../timespan';

type Schemas = components['schemas'];
type TagBody = {
  tagName: string;
  disabled?: boolean;
  description?: string | null;
  defaultExpirePeriod?: string | null;
};
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

  /**
   * A create or an update. Inferred where the guide is silent: an update replaces the whole tag (a
   * field left out gets its default: not disabled, no description, no expiry), and a name another tag
   * has already (in any case) is refused with 400, so no flow comes to depend on duplicates.
   */
  const saveTag = (tagId: string, ctx: RequestContext) => {
    const body = ctx.body as TagBody;
    const period = parsePeriod(body.defaultExpirePeriod ?? NO_EXPIRY);
    if (typeof period === 'string') throw new HttpError(400, `body.defaultExpirePeriod: ${period}`);
    const name = body.tagName.toLowerCase();
    if (store.allTags().some((tag) => tag.tagName.toLowerCase() === name && tag.tagId !== tagId)) {
      throw new HttpError(400, `a tag named "${body.tagName}" exists already`);
    }
    return {
      json: store.saveTag({
        tagId,
        tagName: body.tagName,
        disabled: body.disabled ?? false,
        description: body.description ?? null,
        defaultExpirePeriod: period.text,
      }),
    };
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
    listTags: (ctx) => {
      // "Exact-match filter": case and all.
      const { tagName } = ctx.query as { tagName?: string };
      const tags = store.allTags();
      return { json: tagName === undefined ? tags : tags.filter((tag) => tag.tagName === tagName) };
    },
    // A tagId in the body is ignored: the guide says the server assigns it.
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
