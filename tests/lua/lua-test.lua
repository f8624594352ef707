-- lua-test.lua: the Lua 5.4 test of the guest suite (run by lua-test,
-- tests/lua/lua-test.c, which compares this script's output line for line
-- and its exit status). Each section asserts as it goes and prints one
-- line; a failed assert ends the script with status 1 and a message.
-- arg[1] is a scratch directory that exists.
local dir = assert(arg[1], "usage: lua test.lua SCRATCH-DIR")

-- strings and patterns
local s = "Hello, Tessera"
assert(s:upper() == "HELLO, TESSERA" and s:lower() == "hello, tessera")
assert(s:sub(1, 5) == "Hello" and s:sub(-7) == "Tessera" and #s == 14)
assert(("ab"):rep(3, "-") == "ab-ab-ab" and s:byte(1) == 72 and string.char(76, 117, 97) == "Lua")
assert(s:find("Tess") == 8 and s:find("x") == nil and s:find(".", 1, true) == nil)
assert(select(2, s:gsub("e", "E")) == 3 and (s:gsub("(%w+), (%w+)", "%2 %1")) == "Tessera Hello")
local words = {}
for w in ("one two  three"):gmatch("%a+") do words[#words + 1] = w end
assert(table.concat(words, ",") == "one,two,three")
local k, v = ("key = value"):match("^(%w+)%s*=%s*(%w+)$")
assert(k == "key" and v == "value")
assert(("%d items at %5.2f, %s, %q"):format(3, 2.5, "x", "a\nb") == '3 items at  2.50, x, "a\\\nb"')
assert(("%x %X %o %e %g"):format(255, 255, 8, 12345.678, 0.0001) == "ff FF 10 1.234568e+04 0.0001")
assert(utf8.char(72, 228, 8364) == "H\xc3\xa4\xe2\x82\xac" and utf8.len("H\xc3\xa4\xe2\x82\xac") == 3)
print("strings: " .. ("%s|%s|%d"):format(s:reverse(), ("x"):rep(3), #words))

-- numbers and math
assert(math.pi - 3.141592653589793 == 0 and math.huge > 1e308 and -math.huge < -1e308)
assert(math.floor(-2.5) == -3 and math.ceil(2.1) == 3 and math.abs(-4) == 4 and math.fmod(7, 3) == 1)
assert(math.sqrt(16) == 4 and math.exp(0) == 1 and math.log(1) == 0 and math.log(8, 2) == 3)
assert(math.abs(math.sin(math.pi / 6) - 0.5) < 1e-15 and math.abs(math.cos(0) - 1) == 0)
assert(math.abs(math.atan(1, 1) - math.pi / 4) < 1e-15 and math.abs(math.tan(math.pi / 4) - 1) < 1e-15)
assert(math.maxinteger == 9223372036854775807 and math.mininteger == -9223372036854775808)
assert(math.tointeger(3.0) == 3 and math.type(1) == "integer" and math.type(1.0) == "float")
assert(7 // 2 == 3 and 7 % -3 == -2 and 2^10 == 1024.0 and 1 / 0 == math.huge and 0x10 == 16)
assert(tostring(1e15) == "1e+15" and tostring(0.1) == "0.1" and tostring(-0.0) == "-0.0")
assert(tonumber("0x1p4") == 16.0 and tonumber("  12  ") == 12 and tonumber("z", 36) == 35)
assert(math.ult(1, -1) and (3 | 5) == 7 and (6 & 3) == 2 and (1 << 62) == 4611686018427387904)
math.randomseed(42)
local r = math.random(1, 6)
assert(r >= 1 and r <= 6 and math.random() < 1)
print(("math: %.10f %.6f %g %d"):format(math.sin(1), math.exp(1), 2^0.5, 17 // 5))

-- tables
local t = {5, 3, 8, 1, 9, 2}
table.sort(t)
assert(table.concat(t, " ") == "1 2 3 5 8 9")
table.sort(t, function(a, b) return a > b end)
table.insert(t, 1, 100)
assert(table.remove(t) == 1 and t[1] == 100 and #t == 6)
assert(select("#", table.unpack({1, 2, 3})) == 3 and table.pack(1, nil, 3).n == 3)
local moved = table.move({1, 2, 3}, 1, 3, 2, {0})
assert(table.concat(moved, "") == "0123")
local count = 0
for _ in pairs({a = 1, b = 2, c = 3}) do count = count + 1 end
local mt = setmetatable({}, {__index = function(_, key) return key * 2 end, __call = function() return "called" end})
assert(mt[21] == 42 and mt() == "called" and count == 3)
print("tables: " .. table.concat(t, ","))

-- closures
local function counter()
  local n = 0
  return function() n = n + 1; return n end
end
local c1, c2 = counter(), counter()
c1(); c1()
assert(c1() == 3 and c2() == 1)
local adders = {}
for i = 1, 3 do adders[i] = function(x) return x + i end end
print("closures: " .. adders[1](10) .. " " .. adders[3](10) .. " " .. c1())

-- coroutines
local gen = coroutine.wrap(function(n)
  for i = 1, n do coroutine.yield(i * i) end
  return "done"
end)
local squares = {gen(4), gen(), gen(), gen(), gen()}
local co = coroutine.create(function(a, b)
  local c = coroutine.yield(a + b)
  error("inside " .. c)
end)
local ok1, sum = coroutine.resume(co, 2, 3)
local ok2, err = coroutine.resume(co, "x")
assert(ok1 and sum == 5 and not ok2 and err:find("inside x") and coroutine.status(co) == "dead")
print("coroutines: " .. table.concat(squares, " "))

-- errors
local ok, e = pcall(error, {code = 7})
assert(not ok and e.code == 7)
ok, e = pcall(function() local x = nil; return x.field end)
assert(not ok and e:find("attempt to index a nil value"))
ok, e = pcall(error, "plain", 0)
assert(not ok and e == "plain")
local trace
ok = xpcall(function() error("deep") end, function(m) trace = debug.traceback(m, 1); return m end)
assert(not ok and trace:find("deep") and trace:find("stack traceback"))
ok, e = pcall(string.rep)
assert(not ok and e:find("bad argument #1 to 'string.rep'"))
print("errors: " .. select(2, pcall(error, "msg", 0)))

-- io on files
local path = dir .. "/lua-io.txt"
local f = assert(io.open(path, "w"))
f:write("first line\n", 42, " ", 3.5, "\n", "last")
f:close()
f = assert(io.open(path, "r"))
assert(f:read("l") == "first line" and f:read("n") == 42 and f:read("n") == 3.5)
assert(f:read("l") == "" and f:read("a") == "last" and f:read("l") == nil)
assert(f:seek("set", 6) == 6 and f:read(4) == "line" and f:seek("end") == 22)
f:close()
local lines = {}
for line in io.lines(path) do lines[#lines + 1] = line end
assert(#lines == 3 and lines[3] == "last")
f = assert(io.open(path, "a"))
f:write("\nappended")
f:close()
f = assert(io.open(path))
local all = f:read("a")
f:close()
assert(select(2, all:gsub("\n", "")) == 3 and all:sub(-8) == "appended")
local renamed = dir .. "/lua-io-2.txt"
assert(os.rename(path, renamed) and io.open(path) == nil and os.remove(renamed))
assert(select(2, io.open(dir .. "/no/such/file")) :find("No such file"))
print("io: " .. #all .. " bytes, " .. #lines .. " lines")

-- os
assert(os.time({year = 2000, month = 1, day = 1, hour = 0}) == 946684800)
assert(os.date("!%Y-%m-%d %H:%M:%S", 86400 * 365) == "1971-01-01 00:00:00")
local d = os.date("!*t", 946684800 + 3661)
assert(d.year == 2000 and d.hour == 1 and d.min == 1 and d.sec == 1 and d.yday == 1)
assert(math.type(os.time()) == "integer" and os.time() >= 0 and os.clock() >= 0)
assert(os.difftime(10, 4) == 6.0 and os.getenv("LUA_TEST_UNSET_VARIABLE") == nil)
local eok, how, code = os.execute("exit 3")
assert(eok == nil and how == "exit" and code == 3)
assert(os.execute("true") == true and os.execute() == true)
local p = assert(io.popen("echo from the shell"))
local out = p:read("a")
assert(out == "from the shell\n" and p:close() == true)
local target = dir .. "/popen.txt"
p = assert(io.popen("cat > " .. target, "w"))
p:write("written through a pipe\n")
assert(p:close())
f = assert(io.open(target))
assert(f:read("a") == "written through a pipe\n")
f:close()
os.remove(target)
print("os: " .. out:gsub("\n", "") .. ", exit " .. code)
print("lua-test: all passed")
