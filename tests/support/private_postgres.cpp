#include "tests/support/private_postgres.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <pwd.h>
#include <stdexcept>
#include <unistd.h>

#include "tests/support/child_process.hpp"

namespace keyflow::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int kPort = 5432;  // names the socket file; nothing listens on TCP

// The newest server installed: /usr/lib/postgresql/<version>/bin.
std::string server_bin() {
  std::vector<int> versions;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql")) {
    if (fs::exists(entry.path() / "bin" / "initdb"))
      versions.push_back(std::atoi(entry.path().filename().c_str()));
  }
  if (versions.empty()) throw std::runtime_error("no PostgreSQL server in /usr/lib/postgresql");
  return "/usr/lib/postgresql/" +
         std::to_string(*std::max_element(versions.begin(), versions.end())) + "/bin";
}

// A single-quoted shell word.
std::string quoted(const std::string& word) {
  std::string out = "'";
  for (const char c : word)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

PrivatePostgres::PrivatePostgres() : bin_(server_bin()), as_postgres_(geteuid() == 0) {
  std::string dir = (fs::temp_directory_path() / "keyflow-pg-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = dir;
  if (as_postgres_) {
    const passwd* owner = getpwnam("postgres");
    if (owner == nullptr) throw std::runtime_error("no postgres user to run PostgreSQL as");
    if (chown(dir_.c_str(), owner->pw_uid, owner->pw_gid) != 0)
      throw std::runtime_error("cannot hand " + dir_ + " to postgres");
  }
  conninfo_ = "host=" + dir_ + " port=" + std::to_string(kPort) + " user=postgres";
  // No fsync: the test restarts the server cleanly, it never crashes the machine.
  run("initdb", {"-D", dir_ + "/data", "-A", "trust", "-U", "postgres", "-N", "-E", "UTF8"});
  start();
}

PrivatePostgres::~PrivatePostgres() {
  try {
    run("pg_ctl", {"-D", dir_ + "/data", "-m", "immediate", "-w", "stop"});
  } catch (...) {
    // Stopped already, or never started.
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void PrivatePostgres::stop() {
  run("pg_ctl", {"-D", dir_ + "/data", "-m", "fast", "-w", "stop"});
}

void PrivatePostgres::start() {
  run("pg_ctl", {"-D", dir_ + "/data", "-l", dir_ + "/postgresql.log", "-w", "-o",
                 "-k " + dir_ + " -p " + std::to_string(kPort) +
                     " -c listen_addresses= -c fsync=off -c max_connections=300",
                 "start"});
}

void PrivatePostgres::run(const std::string& program, const std::vector<std::string>& args) const {
  std::string command = "cd " + quoted(dir_) + " && exec " + quoted(bin_ + "/" + program);
  for (const auto& arg : args)
    command += " " + quoted(arg);
  command += " >>" + quoted(dir_ + "/tools.log") + " 2>&1";
  std::vector<std::string> argv = {"-c", command};
  std::string shell = "/bin/sh";
  if (as_postgres_) {
    argv = {"-u", "postgres", "--", "/bin/sh", "-c", command};
    shell = "/usr/sbin/runuser";
  }
  ChildProcess child(shell, argv, {});
  const auto status = child.wait(60s);
  if (status != 0) {
    throw std::runtime_error(program + " failed (" +
                             (status ? std::to_string(*status) : std::string("timed out")) +
                             "); see " + dir_ + "/tools.log");
  }
}

}  // namespace keyflow::test
