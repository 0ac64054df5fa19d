/**
 * The baseline every HTTP benchmark is measured against: a bare fastify POST route that parses the
 * JSON body and answers 202, with nothing behind it. Run as its own process on the same machine.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/api/v1/track', async (req, reply) => {
  reply.code(202);
  return { accepted: 1, echo: typeof req.body };
});
app.get('/api/v1/sites', async () => ({ data: [] }));
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.log(`listening ${address}`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
