// The shard partition (runner/pool/shard.hpp) over a synthetic long-tail
// suite: many short units and a few long ones, the long ones last. For
// N = 2, 4, 8 shards, without durations (balanced by test count) and with
// the synthetic per-unit durations passed in (LPT): each shard's test count
// and duration, printed as max/min. Pure computation, no processes: what
// bench/ci.sh's "shards" section quotes.
// Usage: shard_balance [SHORT_UNITS LONG_UNITS]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "pool/shard.hpp"

int main(int argc, char** argv) {
    const std::size_t shorts = argc > 2 ? std::strtoul(argv[1], nullptr, 10) : 190;
    const std::size_t longs = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 10;
    // 4 binaries; the long units are the last binary's last units.
    constexpr std::size_t kBinaries = 4;
    std::vector<std::vector<tend::Unit>> planned(kBinaries);
    std::vector<std::string> binaries;
    tend::UnitDurations durations;
    for (std::size_t b = 0; b < kBinaries; ++b) binaries.push_back("bin" + std::to_string(b));
    std::uint32_t id = 0;
    auto add = [&](std::size_t b, std::size_t tests, double seconds) {
        tend::Unit u;
        u.binary = b;
        u.name = "unit" + std::to_string(planned[b].size());
        for (std::size_t t = 0; t < tests; ++t) u.tests.push_back(id++);
        durations[binaries[b]][u.name] = seconds;
        planned[b].push_back(std::move(u));
    };
    // Short units: 5 to 14 tests of 10 ms each. Long ones: 3 tests, 20 to 65 s.
    for (std::size_t i = 0; i < shorts; ++i) {
        const std::size_t tests = 5 + (i * 7) % 10;
        add(i * (kBinaries - 1) / shorts, tests, 0.01 * static_cast<double>(tests));
    }
    for (std::size_t i = 0; i < longs; ++i)
        add(kBinaries - 1, 3, 20.0 + 5.0 * static_cast<double>(i));

    std::printf("%zu short units, %zu long ones (last), %u tests\n", shorts, longs, id);
    std::printf("%-3s %-16s %14s %14s %22s\n", "N", "partition by", "tests max/min", "tests ratio",
                "seconds max/min");
    for (std::size_t n : {2, 4, 8}) {
        for (bool timed : {false, true}) {
            std::vector<std::size_t> tests(n, 0);
            std::vector<double> seconds(n, 0.0);
            for (std::size_t k = 1; k <= n; ++k) {
                auto copy = planned;
                tend::keep_shard(copy, binaries, timed ? durations : tend::UnitDurations{},
                                 tend::Shard{k, n});
                for (std::size_t b = 0; b < copy.size(); ++b) {
                    for (const auto& u : copy[b]) {
                        tests[k - 1] += u.tests.size();
                        seconds[k - 1] += durations[binaries[b]][u.name];
                    }
                }
            }
            const auto [tmin, tmax] = std::minmax_element(tests.begin(), tests.end());
            const auto [smin, smax] = std::minmax_element(seconds.begin(), seconds.end());
            std::printf("%-3zu %-16s %8zu/%-5zu %14.2f %12.1f/%-9.1f\n", n,
                        timed ? "durations (LPT)" : "test count", *tmax, *tmin,
                        *tmin ? static_cast<double>(*tmax) / static_cast<double>(*tmin) : 0.0,
                        *smax, *smin);
        }
    }
}
