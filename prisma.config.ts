// Prisma CLI configuration (Prisma 7 keeps the connection URL out of schema.prisma).
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://order_saga:order_saga@127.0.0.1:55432/order_saga' },
});
