/** The `mysql:` section: a MariaDB or MySQL database (for the inventory history table). */
import { z } from 'zod';
import { secret } from '../config/schema-types.js';
import { resolveSecret } from '../config/secrets.js';
import { ConfigError } from '../config/errors.js';

export const mysqlSchema = z
  .strictObject({
    url: z.string().regex(/^mysql:\/\//, { error: 'expected a URL such as mysql://nsr@127.0.0.1:3306/nsr (the password goes in password:)' }).meta({ description: 'mysql://user@host:port/database' }),
    password: secret('the password; write it as ${MYSQL_PASSWORD}, never in the file'),
    password_file: z.string().min(1).optional(),
  })
  .optional();

export interface MysqlSettings {
  url: string;
  password: string | undefined;
}

export function resolveMysql(section: z.output<typeof mysqlSchema>, where: string): MysqlSettings | undefined {
  if (!section) return undefined;
  if (new URL(section.url).password) throw new ConfigError(`${where}: mysql.url: the URL carries a password; move it to password: \${MYSQL_PASSWORD} (or password_file)`);
  return { url: section.url, password: resolveSecret(`${where}: mysql`, 'password', section.password, section.password_file) };
}
