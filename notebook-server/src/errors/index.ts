export { categoryOf, ERROR_CODES, type ErrorCategory, type ErrorCode, isErrorCode } from './codes.ts';
export {
  ERROR_META_KEY,
  type ErrorReport,
  PeragusError,
  type PeragusErrorOptions,
  reportFrom,
  reportOf,
} from './peragus-error.ts';
