#include "engine/core/logging.hpp"

#include <chrono>
#include <ctime>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace keyflow {
namespace {

thread_local std::string_view current_request_id;

LogFormat chosen_format = LogFormat::text;

void append(spdlog::memory_buf_t& out, std::string_view text) {
  out.append(text.data(), text.data() + text.size());
}

std::shared_ptr<spdlog::logger> make_access_logger() {
  auto logger =
      std::make_shared<spdlog::logger>("access", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(spdlog::level::off);
  return logger;
}

std::shared_ptr<spdlog::logger>& access_logger() {
  static std::shared_ptr<spdlog::logger> logger = make_access_logger();
  return logger;
}

}  // namespace

void append_json_string(std::string_view text, spdlog::memory_buf_t& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        append(out, "\\\"");
        break;
      case '\\':
        append(out, "\\\\");
        break;
      case '\n':
        append(out, "\\n");
        break;
      case '\r':
        append(out, "\\r");
        break;
      case '\t':
        append(out, "\\t");
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          const char escaped[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
          out.append(escaped, escaped + sizeof escaped);
        } else {
          // Bytes from 0x80 up pass as they are: a message is UTF-8 (or, from a library,
          // whatever it wrote, which a collector then sees as it was).
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const auto since_epoch = msg.time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  char time[40];
  const auto n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &utc);
  fmt::format_to(std::back_inserter(dest), R"({{"time":"{}.{:03}Z","level":")",
                 std::string_view(time, n), millis);
  const auto level = spdlog::level::to_string_view(msg.level);
  append(dest, std::string_view(level.data(), level.size()));
  append(dest, R"(","logger":)");
  append_json_string(std::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
  const std::string_view payload(msg.payload.data(), msg.payload.size());
  if (fields_payload_) {
    dest.push_back(',');
    append(dest, payload);
  } else {
    append(dest, R"(,"message":)");
    append_json_string(payload, dest);
  }
  if (!current_request_id.empty() && !fields_payload_) {
    append(dest, R"(,"request_id":)");
    append_json_string(current_request_id, dest);
  }
  append(dest, "}\n");
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>(fields_payload_);
}

namespace {

// %*: the message, its line breaks folded (see kTextLogPattern).
class OneLineMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!text.empty() && blank(text.back()))
      text.remove_suffix(1);
    for (std::size_t i = 0; i < text.size();) {
      if (text[i] != '\n' && text[i] != '\r') {
        dest.push_back(text[i++]);
        continue;
      }
      while (dest.size() > 0 && (dest[dest.size() - 1] == ' ' || dest[dest.size() - 1] == '\t'))
        dest.resize(dest.size() - 1);
      while (i < text.size() && blank(text[i]))
        ++i;
      dest.append(std::string_view(" / "));
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<OneLineMessage>();
  }
};

}  // namespace

std::unique_ptr<spdlog::formatter> make_text_log_formatter(const char* pattern) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<OneLineMessage>('*').set_pattern(pattern);
  return formatter;
}

void configure_logging(LogFormat format, const std::string& level, bool access_lines) {
  chosen_format = format;
  // Logs go to stderr; stdout carries only the lines other programs read.
  auto main = spdlog::stderr_color_mt("keyflowd");
  auto& access = *access_logger();
  const auto lvl = spdlog::level::from_str(level);
  if (format == LogFormat::json) {
    main->set_formatter(std::make_unique<JsonLogFormatter>());
    access.set_formatter(std::make_unique<JsonLogFormatter>(true));
  } else {
    main->set_formatter(make_text_log_formatter());
    access.set_formatter(make_text_log_formatter("[%Y-%m-%d %H:%M:%S.%e] [access] %*"));
  }
  spdlog::set_default_logger(main);
  spdlog::set_level(lvl);
  // The access log follows the level too: "warn" and above silences it.
  access.set_level(access_lines ? lvl : spdlog::level::off);
}

spdlog::logger& access_log() {
  return *access_logger();
}

LogFormat log_format() {
  return chosen_format;
}

RequestIdScope::RequestIdScope(std::string_view id) : previous_(current_request_id) {
  current_request_id = id;
}

RequestIdScope::~RequestIdScope() {
  current_request_id = previous_;
}

std::string_view RequestIdScope::current() {
  return current_request_id;
}

}  // namespace keyflow
