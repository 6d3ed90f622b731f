// keyflowd's start-up failures are an operator's first contact: a port already taken, a bad
// address, an unreachable database or a malformed master key print one line and exit with a
// code from 1 to 125, in every role — never a crash, a hang or a page of noise. And a flood
// of connections beyond the descriptor limit costs a log line a second, not the disk.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

extern char** environ;

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "tests/support/test_database.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;

struct Outcome {
  int exit_code = -1;
  std::vector<std::string> errors;  // stderr lines at level error or above, or keyflowd: ...
  std::string stderr_text;
};

// Runs keyflowd with the environment given (and nothing else of the test's), waits for it to
// end (at most 60 s) and reads what it printed on stderr.
// "env -i PATH=... PG...=..." keeping the test's libpq settings (pg_virtualenv's PGHOST and
// friends, which the test databases' URLs rely on) and nothing else of its environment.
std::string clean_env_prefix() {
  std::string prefix = "env -i PATH=/usr/bin:/bin";
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv(*e);
    // The sanitizers' settings too, so that a sanitizer build's child fails as its parent.
    if (kv.starts_with("PG") || kv.starts_with("ASAN_OPTIONS=") ||
        kv.starts_with("UBSAN_OPTIONS=") || kv.starts_with("LSAN_OPTIONS=")) {
      prefix += " '" + kv + "'";
    }
  }
  return prefix;
}

Outcome run_keyflowd(const std::string& role, const std::map<std::string, std::string>& env) {
  std::string command = clean_env_prefix();
  for (const auto& [name, value] : env)
    command += " " + name + "='" + value + "'";
  command += " timeout -s KILL 60 " + std::string(KEYFLOWD_PATH) + " " + role +
             " 2>&1 >/dev/null; echo \"#exit=$?\"";
  Outcome out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) {
    std::string line(buffer);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    if (line.starts_with("#exit=")) {
      out.exit_code = std::stoi(line.substr(6));
      continue;
    }
    out.stderr_text += line + "\n";
    if (line.find("[critical]") != std::string::npos || line.find("[error]") != std::string::npos ||
        line.starts_with("keyflowd: ")) {
      out.errors.push_back(line);
    }
  }
  pclose(pipe);
  return out;
}

void expect_one_line_failure(const Outcome& o, const std::string& says) {
  EXPECT_GE(o.exit_code, 1) << o.stderr_text;
  EXPECT_LE(o.exit_code, 125) << o.stderr_text;
  ASSERT_EQ(o.errors.size(), 1u) << o.stderr_text;
  EXPECT_NE(o.errors.front().find(says), std::string::npos) << o.errors.front();
}

const std::vector<std::string> kDatabaseRoles = {"serve",    "relay",   "deliver",
                                                 "schedule", "migrate", "all"};

class StartupErrorsTest : public ::testing::Test {
 protected:
  std::map<std::string, std::string> env(std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> e = {{"KEYFLOW_DATABASE_URL", db_.url()},
                                            {"KEYFLOW_KAFKA_BROKERS", "embedded"},
                                            {"KEYFLOW_HTTP_ADDR", "127.0.0.1:0"},
                                            {"KEYFLOW_ADMIN_TOKEN", "startup-errors-token"},
                                            {"KEYFLOW_MASTER_KEY", test::kTestMasterKey}};
    for (auto& [k, v] : extra)
      e[k] = v;
    return e;
  }
  test::TestDatabase db_;
};

TEST_F(StartupErrorsTest, APortAlreadyTakenIsOneLineInServeAndAll) {
  // Hold a listening port for the length of the test.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto address = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());
  for (const std::string role : {"serve", "all"}) {
    SCOPED_TRACE(role);
    expect_one_line_failure(run_keyflowd(role, env({{"KEYFLOW_HTTP_ADDR", address}})),
                            "cannot listen on " + address);
  }
}

TEST_F(StartupErrorsTest, ABadAddressIsOneLine) {
  for (const std::string role : {"serve", "all"}) {
    SCOPED_TRACE(role);
    expect_one_line_failure(run_keyflowd(role, env({{"KEYFLOW_HTTP_ADDR", "127.0.0.1:99999"}})),
                            "not a port");
    expect_one_line_failure(run_keyflowd(role, env({{"KEYFLOW_HTTP_ADDR", "nohost:80"}})),
                            "not an IP address");
  }
}

TEST_F(StartupErrorsTest, AnUnreachableDatabaseIsOneLineInEveryRole) {
  for (const auto& role : kDatabaseRoles) {
    SCOPED_TRACE(role);
    expect_one_line_failure(
        run_keyflowd(role, env({{"KEYFLOW_DATABASE_URL", "host=127.0.0.1 port=1 dbname=x"}})),
        "port 1 failed");
  }
}

// Without KEYFLOW_KAFKA_BROKERS a role that publishes or consumes does not fall back to an
// in-memory broker: one line, and no start.
TEST_F(StartupErrorsTest, ARoleThatNeedsKafkaRefusesToStartWithoutBrokers) {
  auto without = env();
  without.erase("KEYFLOW_KAFKA_BROKERS");
  for (const std::string role : {"serve", "relay", "deliver", "all"}) {
    SCOPED_TRACE(role);
    expect_one_line_failure(run_keyflowd(role, without), "KEYFLOW_KAFKA_BROKERS is not set");
  }
}

// KEYFLOW_KAFKA_* properties reach the Kafka clients themselves: TLS with a CA file that does
// not exist stops the relay's producer and the deliverer's consumer at start, in one line. A
// property librdkafka does not know stops every role before anything starts, and a password
// never shows.
TEST_F(StartupErrorsTest, KafkaPropertiesReachTheClientsAndBadOnesAreOneLine) {
  const auto tls = env({{"KEYFLOW_KAFKA_SECURITY_PROTOCOL", "ssl"},
                        {"KEYFLOW_KAFKA_SSL_CA_LOCATION", "/nonexistent/keyflow-ca.pem"}});
  for (const std::string role : {"relay", "deliver"}) {
    SCOPED_TRACE(role);
    expect_one_line_failure(run_keyflowd(role, tls), "ssl.ca.location");
  }
  for (const std::string role : {"serve", "relay", "deliver", "all"}) {
    SCOPED_TRACE(role);
    const auto out = run_keyflowd(role, env({{"KEYFLOW_KAFKA_SASL_PASSWORD", "pw-never-shown"},
                                             {"KEYFLOW_KAFKA_SASL_MECHANISMZ", "PLAIN"}}));
    expect_one_line_failure(out, "KEYFLOW_KAFKA_SASL_MECHANISMZ");
    EXPECT_EQ(out.stderr_text.find("pw-never-shown"), std::string::npos) << out.stderr_text;
  }
}

TEST_F(StartupErrorsTest, AMalformedMasterKeyIsOneLineInEveryRole) {
  for (const auto& role : kDatabaseRoles) {
    SCOPED_TRACE(role);
    expect_one_line_failure(run_keyflowd(role, env({{"KEYFLOW_MASTER_KEY", "not-base64!"}})),
                            "KEYFLOW_MASTER_KEY");
  }
}

// With few descriptors and many clients, accept fails with EMFILE again and again: the
// server backs off and reports it about once a second, with a count, and keeps serving.
TEST_F(StartupErrorsTest, AcceptFailuresAreLoggedAtMostOnceASecond) {
  const auto e = env();
  std::string command = "ulimit -n 128; exec " + clean_env_prefix();
  for (const auto& [name, value] : e)
    command += " " + name + "='" + value + "'";
  command += " " + std::string(KEYFLOWD_PATH) + " serve 2>&1";
  FILE* pipe = popen(("sh -c \"" + command + "\" & echo $!").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  // The first line is the pid of the shell, which exec()s into keyflowd.
  std::string port;
  pid_t pid = 0;
  std::vector<std::string> lines;
  char buffer[4096];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) {
    std::string line(buffer);
    lines.push_back(line);
    if (pid == 0 && line.find_first_not_of("0123456789\n") == std::string::npos) {
      pid = static_cast<pid_t>(std::stol(line));
      continue;
    }
    const auto at = line.find("http listening on ");
    if (at != std::string::npos) {
      port = line.substr(line.rfind(':') + 1);
      port.erase(port.find_last_not_of("\r\n") + 1);
      break;
    }
  }
  ASSERT_FALSE(port.empty()) << "keyflowd did not start";

  // 400 idle clients against a process that may open 128 descriptors, for three seconds.
  std::vector<int> clients;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(std::stoi(port)));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 400; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      ::close(fd);
      continue;
    }
    clients.push_back(fd);
  }
  std::this_thread::sleep_for(3s);
  for (const int fd : clients)
    ::close(fd);
  std::this_thread::sleep_for(500ms);
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGINT);
  while (fgets(buffer, sizeof buffer, pipe) != nullptr)
    lines.emplace_back(buffer);
  pclose(pipe);

  std::size_t accept_lines = 0;
  for (const auto& line : lines) {
    if (line.find("accept failed") != std::string::npos) ++accept_lines;
  }
  std::printf("%zu clients, %zu 'accept failed' lines in about 3.5 s\n", clients.size(),
              accept_lines);
  EXPECT_GE(accept_lines, 1u) << "the descriptor limit was never reached";
  EXPECT_LE(accept_lines, 6u) << "accept failures flooded the log";
}

}  // namespace
}  // namespace keyflow
