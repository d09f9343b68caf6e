-- strategy fifo: oldest first. New jobs are pushed on the left and popped from the right; a
-- job that comes back unfinished is pushed on the right, so it is next out again. The
-- functions are list.lua's.
local LIST_PUSH, LIST_POP, LIST_RETURN = 'LPUSH', 'RPOP', 'RPUSH'
