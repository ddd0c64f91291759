import appconfigRead from '../../../templates/policies/appconfig-read.json';
import s3PrefixAccess from '../../../templates/policies/s3-prefix-access.json';
import secretsmanagerRead from '../../../templates/policies/secretsmanager-read.json';
import trustPolicy from '../../../templates/trust-policy.json';
import { createTemplateCatalog, type TemplateCatalog } from './templates';

/**
 * The templates shipped in `templates/`, imported statically so the Lambda bundle carries them (no file
 * reads at run time). A new file under `templates/policies/` must be added here too; a unit test checks
 * that this catalog and the directory agree.
 */
export const BUILTIN_TEMPLATES: TemplateCatalog = createTemplateCatalog({
  trustPolicy,
  policies: {
    'appconfig-read': appconfigRead,
    's3-prefix-access': s3PrefixAccess,
    'secretsmanager-read': secretsmanagerRead,
  },
});
