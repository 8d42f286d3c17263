export * from './client';
export { ApiError, isApiError, type ApiErrorCode } from './errors';
export { toImageBuffer, sniffImageType, type ImageInput, type ImageType } from './images';
export type { TlsOptions } from './http';
export type { ProxyOptions } from './proxy';
