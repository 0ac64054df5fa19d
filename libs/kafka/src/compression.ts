import { CompressionTypes } from 'kafkajs';

/** The compressions a producer of the events topic may use (ingest's KAFKA_COMPRESSION), as kafkajs codecs. */
export const COMPRESSION_CODECS = { gzip: CompressionTypes.GZIP, none: CompressionTypes.None } as const;

export type CompressionName = keyof typeof COMPRESSION_CODECS;
