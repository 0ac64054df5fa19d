-- `sessions` was copied into `sessions_v2` by 004 and no view writes to it any more.
DROP TABLE IF EXISTS sessions;
