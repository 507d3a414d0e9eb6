// Ids shared by every layer: the experiment id and container references.

export { CONTAINER_REF_PATTERN, isContainerRef } from './container.ts';
export {
  EXPERIMENT_ID_MAX,
  EXPERIMENT_ID_PATTERN,
  EXPERIMENT_ID_RULE,
  ExperimentIdSchema,
  experimentIdProblem,
  isExperimentId,
  newExperimentId,
} from './experiment.ts';
