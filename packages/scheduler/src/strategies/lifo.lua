-- strategy lifo: newest first. The left end of the list is the newest: jobs are pushed and
-- popped there, and a job that comes back unfinished is pushed there too, so it is next out
-- again. The functions are list.lua's.
local LIST_PUSH, LIST_POP, LIST_RETURN = 'LPUSH', 'LPOP', 'LPUSH'
