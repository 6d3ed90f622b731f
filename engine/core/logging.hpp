#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>

namespace keyflow {

// How log lines are written: text for people at a terminal, or one JSON object a line
// (KEYFLOW_LOG_FORMAT=json) for collectors: {"time","level","logger","message"}, with the
// "request_id" of the HTTP request being handled when there is one.
enum class LogFormat { text, json };

// Sets the default logger ("keyflowd", on stderr) and the access logger ("access", on stderr
// too, written only when access is true) to format and level. Call once, before any thread
// logs. Until then the access log is off.
void configure_logging(LogFormat format, const std::string& level, bool access);

// The access log, one line per HTTP request. In JSON, its messages are JSON members
// ("method":"GET",...) that the line carries as its own fields, not as a message.
spdlog::logger& access_log();
LogFormat log_format();

// Formats a line as the JSON object above. With fields_payload, the message is JSON members
// to splice in (the access log's), else a string to escape.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  explicit JsonLogFormatter(bool fields_payload = false) : fields_payload_(fields_payload) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  bool fields_payload_;
};

// The pattern of text lines: spdlog's default, with the message on one line (%*): a message
// that spans lines (libpq's errors do) has each line break and the blanks around it written as
// " / ", so that every entry stays one line for grep and for collectors reading text.
inline constexpr const char* kTextLogPattern = "[%Y-%m-%d %H:%M:%S.%e] [%n] [%^%l%$] %*";
std::unique_ptr<spdlog::formatter> make_text_log_formatter(const char* pattern = kTextLogPattern);

// The id of the request the calling thread is working on, for its log lines; empty outside
// a request. Set for the length of a handler's run.
class RequestIdScope {
 public:
  explicit RequestIdScope(std::string_view id);
  ~RequestIdScope();
  RequestIdScope(const RequestIdScope&) = delete;
  RequestIdScope& operator=(const RequestIdScope&) = delete;
  static std::string_view current();

 private:
  std::string_view previous_;
};

// text as a JSON string literal, quotes included, appended to out.
void append_json_string(std::string_view text, spdlog::memory_buf_t& out);

}  // namespace keyflow
