export {
  type Config,
  ConfigError,
  defaultRuntimeKind,
  loadConfig,
  readSetting,
  settingsHelp,
} from './config.ts';
export { SETTINGS, type Setting, type SettingKey, type SettingScope } from './settings.ts';
