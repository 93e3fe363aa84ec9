/** The connection sections of the configuration, resolved (passwords in, never printed): sources and sinks read them alike. */
import type { AmqpSettings } from './amqp-settings.js';
import type { MysqlSettings } from './mysql-settings.js';
import type { PostgresSettings } from './postgres-settings.js';

export interface Connections {
  postgres?: PostgresSettings;
  mysql?: MysqlSettings;
  amqp?: AmqpSettings;
}
