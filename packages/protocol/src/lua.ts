import recordLua from './record.lua';

/**
 * The Lua helpers every queue script starts with: the KEYS layout, state codes, header
 * positions and the functions that read, write, schedule, trim and bury job records.
 */
export const RECORD_LUA: string = recordLua;
