#include "tests/support/verify_race.hpp"

#include <atomic>
#include <thread>

#include <boost/json.hpp>

namespace keyflow::test {

VerifyRace race_verifies(const std::vector<HttpTestClient>& clients, const boost::json::value& key,
                         const std::function<void()>& change) {
  using namespace std::chrono_literals;
  std::atomic<bool> changed{false};
  std::atomic<bool> stop{false};
  std::atomic<int> verifies{0};
  std::atomic<int> stale{0};
  {
    std::vector<std::jthread> verifiers;
    for (const auto& client : clients) {
      verifiers.emplace_back([&, client] {
        while (!stop) {
          const bool after = changed.load();
          const auto r = client.post("/v1/api-keys/verify", boost::json::object{{"key", key}});
          ++verifies;
          if (after && r.json().at("code").as_string() == "VALID") ++stale;
        }
      });
    }
    std::this_thread::sleep_for(20ms);
    change();
    changed = true;
    std::this_thread::sleep_for(100ms);
    stop = true;
  }
  return {verifies.load(), stale.load()};
}

}  // namespace keyflow::test
