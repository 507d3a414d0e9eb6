export {
  categoryOf,
  ERROR_CODES,
  type ErrorCategory,
  type ErrorCode,
  HTTP_STATUS_OF_CATEGORY,
  isErrorCode,
} from './codes.ts';
export {
  ERROR_META_KEY,
  type ErrorReport,
  PeragusError,
  type PeragusErrorOptions,
  reportFrom,
  reportOf,
} from './peragus-error.ts';
