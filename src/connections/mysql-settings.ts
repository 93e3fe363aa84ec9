/** The `mysql:` section: a MariaDB or MySQL database (for the inventory history table). */
import { z } from 'zod';
import { connectionFields, connectionPassword } from './connection-settings.js';

export const mysqlSchema = z
  .strictObject(connectionFields(/^mysql:\/\//, 'mysql://nsr@127.0.0.1:3306/nsr', 'MYSQL_PASSWORD'))
  .optional();

export interface MysqlSettings {
  url: string;
  password: string | undefined;
}

export function resolveMysql(section: z.output<typeof mysqlSchema>, where: string): MysqlSettings | undefined {
  if (!section) return undefined;
  return { url: section.url, password: connectionPassword(section, 'mysql', 'MYSQL_PASSWORD', where) };
}
