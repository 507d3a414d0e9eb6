// Files a call wrote: the artifact reference shape and media types.
export {
  isImageMediaType,
  isTextMediaType,
  mediaTypeOf,
  OCTET_STREAM,
  PARQUET_MEDIA_TYPE,
  PNG_MEDIA_TYPE,
} from './media.ts';
export { type ArtifactRef, ArtifactRefSchema, artifactRef, type PartialArtifactRef } from './ref.ts';
