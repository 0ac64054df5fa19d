-- `sessions_v2` was copied into `sessions_v3` by 010 and no view writes to it any more.
DROP TABLE IF EXISTS sessions_v2;
