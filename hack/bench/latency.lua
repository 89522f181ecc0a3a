-- wrk -s hack/bench/latency.lua: after wrk's own report, prints the run's latency
-- quantiles ("quantile <percent> <µs>"), fine in the tail, so that make bench can pool
-- runs: the p99 of every request a proxy served over all its runs, not the median
-- of runs' p99s, which a single stall of the machine sets for a one-second run.
-- (Debian's wrk 4.1 gives a script percentiles, not the histogram itself.)
local grid = { 50, 75, 90, 91, 92, 93, 94 }
for tenth = 950, 999 do grid[#grid + 1] = tenth / 10 end
for p = 99.91, 99.995, 0.01 do grid[#grid + 1] = p end

done = function(summary, latency, requests)
  for _, p in ipairs(grid) do
    io.write(string.format("quantile %.2f %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("quantile 100.00 %d\n", latency.max)) -- percentile(100) is 0
end
