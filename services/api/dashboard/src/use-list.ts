import type { Client } from './api';
import { useFetch } from './use-fetch';

/** A `{data: [...]}` list of the API, reloaded after each change the section makes. */
export const useList = <T>(client: Client, path: string) =>
  useFetch(() => client.get<{ data: T[] }>(path).then((r) => r.data), path);
