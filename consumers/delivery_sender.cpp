#include "consumers/delivery_sender.hpp"

#include <algorithm>
#include <optional>

#include <spdlog/spdlog.h>

#include "consumers/delivery_outcome.hpp"
#include "consumers/signed_request.hpp"

namespace keyflow {
namespace {

std::chrono::milliseconds lease_length(const SenderOptions& o) {
  return o.lease.count() > 0 ? o.lease : o.request_timeout + std::chrono::seconds(30);
}

}  // namespace

DeliverySender::DeliverySender(DeliveryQueue& queue, WebhookClient& client, const Clock& clock,
                               SenderOptions options)
    : queue_(queue),
      client_(client),
      clock_(clock),
      options_(std::move(options)),
      schedule_(options_.retry) {}

double DeliverySender::jitter() const {
  return options_.jitter ? options_.jitter() : random_jitter();
}

void DeliverySender::wake() {
  {
    std::lock_guard lock(mailbox_->mutex);
    mailbox_->woken = true;
  }
  mailbox_->changed.notify_all();
}

std::size_t DeliverySender::dispatch_due() {
  if (in_flight_total_ >= options_.max_in_flight) return 0;
  const auto now = clock_.now();
  std::vector<std::string> saturated;
  for (const auto& [group, count] : in_flight_by_group_) {
    if (count >= options_.max_in_flight_per_subscription) saturated.push_back(group);
  }
  for (auto it = rate_limits_.begin(); it != rate_limits_.end();) {
    if (it->second.full(now)) {
      it = rate_limits_.erase(it);  // idle for a second: forget it
      continue;
    }
    if (it->second.empty(now)) saturated.push_back(it->first);
    ++it;
  }
  std::unordered_map<std::string, std::size_t> taken;
  const auto admit = [&](const std::string& group, std::optional<int> rate_limit) {
    const auto it = in_flight_by_group_.find(group);
    const auto busy = it == in_flight_by_group_.end() ? 0 : it->second;
    auto& count = taken[group];
    if (busy + count >= options_.max_in_flight_per_subscription) return false;
    if (rate_limit) {
      auto bucket = rate_limits_.try_emplace(group, *rate_limit, now).first;
      if (bucket->second.rate() != *rate_limit) bucket->second = TokenBucket(*rate_limit, now);
      if (!bucket->second.take(now)) return false;
    }
    ++count;
    return true;
  };
  auto due = queue_.claim(now, now + lease_length(options_),
                          options_.max_in_flight - in_flight_total_, saturated, admit);
  for (auto& d : due)
    start(std::move(d), now);
  return due.size();
}

void DeliverySender::finish_without_sending(DeliveryClaim claim, TimePoint now, std::string error) {
  WebhookResponse response;
  response.error = std::move(error);
  {
    std::lock_guard lock(mailbox_->mutex);
    mailbox_->finished.push_back({std::move(claim), now, std::move(response)});
  }
  mailbox_->changed.notify_all();
}

void DeliverySender::start(DueDelivery due, TimePoint now) {
  ++in_flight_by_group_[due.claim.group];
  ++in_flight_total_;
  leases_[due.claim.delivery_id] = due.claim.lease_until;

  if (!due.error.empty()) {
    finish_without_sending(std::move(due.claim), now, std::move(due.error));
    return;
  }
  auto request = signed_request(due, now, options_.user_agent);
  if (!request) {
    finish_without_sending(std::move(due.claim), now, "the signing secret is malformed");
    return;
  }
  client_.post(std::move(*request),
               [mailbox = mailbox_, claim = std::move(due.claim), now](WebhookResponse response) {
                 {
                   std::lock_guard lock(mailbox->mutex);
                   mailbox->finished.push_back({claim, now, std::move(response)});
                 }
                 mailbox->changed.notify_all();
               });
}

std::size_t DeliverySender::record_finished() {
  std::vector<Finished> batch;
  {
    std::lock_guard lock(mailbox_->mutex);
    batch.swap(mailbox_->finished);
  }
  if (batch.empty()) return 0;
  const auto now = clock_.now();
  std::vector<DeliveryResult> results;
  for (const auto& f : batch) {
    const auto& schedule = f.claim.retry ? *f.claim.retry : schedule_;
    results.push_back({f.claim, f.attempted_at, f.response,
                       decide_outcome(f.response, f.claim.attempt, now, schedule, jitter())});
  }
  try {
    queue_.record(results, now);
  } catch (...) {
    // Keep them for the next round, ahead of what arrived meanwhile.
    std::lock_guard lock(mailbox_->mutex);
    batch.insert(batch.end(), std::make_move_iterator(mailbox_->finished.begin()),
                 std::make_move_iterator(mailbox_->finished.end()));
    mailbox_->finished = std::move(batch);
    throw;
  }
  if (options_.metrics) options_.metrics->record(results);
  for (const auto& result : results) {
    auto it = in_flight_by_group_.find(result.claim.group);
    if (it != in_flight_by_group_.end() && --it->second == 0) in_flight_by_group_.erase(it);
    --in_flight_total_;
    leases_.erase(result.claim.delivery_id);
    const auto& r = result.response;
    const auto what = r.error.empty() ? "HTTP " + std::to_string(r.status_code) : r.error;
    if (result.outcome.status == "dead") {
      spdlog::warn("{}: {} is dead after {} attempts (last: {})", queue_.name(),
                   result.claim.delivery_id, result.claim.attempt, what);
    } else {
      spdlog::debug("{}: {} attempt {}: {} in {} ms -> {}", queue_.name(), result.claim.delivery_id,
                    result.claim.attempt, what, r.latency.count(), result.outcome.status);
    }
  }
  return batch.size();
}

void DeliverySender::wait(std::stop_token& stop, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mailbox_->mutex);
  mailbox_->changed.wait_for(lock, stop, timeout,
                             [&] { return mailbox_->woken || !mailbox_->finished.empty(); });
  // Then gather for a moment: recording and claiming cost a few database round trips per
  // round whatever their size, so rounds of one attempt each would cap the rate there.
  if (!mailbox_->finished.empty() && options_.gather.count() > 0) {
    mailbox_->changed.wait_for(lock, stop, options_.gather,
                               [&] { return mailbox_->finished.size() * 2 >= in_flight_total_; });
  }
  mailbox_->woken = false;
}

void DeliverySender::run(std::stop_token stop) {
  int failures = 0;
  while (!stop.stop_requested()) {
    auto pause = options_.poll_interval;
    try {
      record_finished();
      dispatch_due();
      failures = 0;
      // Then wait for an attempt to finish (or a wake, or the poll interval). A claim takes
      // all the room there is, so what it left is either not due or for endpoints at their
      // cap; claiming again at once would scan those endpoints' due deliveries to find none.
    } catch (const std::exception& e) {
      ++failures;
      spdlog::warn("{}: sender: {}", queue_.name(), e.what());
      pause = std::min<std::chrono::milliseconds>(
          options_.poll_interval * (1 << std::min(failures, 5)), std::chrono::seconds(5));
    }
    if (pause.count() > 0) wait(stop, pause);
  }
  drain();
}

void DeliverySender::drain() {
  const auto until = std::chrono::steady_clock::now() + options_.shutdown_grace;
  while (in_flight_total_ > 0) {
    try {
      record_finished();
    } catch (const std::exception& e) {
      spdlog::warn("{}: sender: {}", queue_.name(), e.what());
      break;
    }
    if (in_flight_total_ == 0) break;
    std::unique_lock lock(mailbox_->mutex);
    if (!mailbox_->changed.wait_until(lock, until, [&] { return !mailbox_->finished.empty(); })) {
      break;
    }
  }
  if (leases_.empty()) return;
  // The attempts still running may or may not reach their receivers; handing the deliveries
  // back now lets another sender retry them at once instead of after the lease (same id, so a
  // receiver can drop the duplicate).
  try {
    queue_.release({leases_.begin(), leases_.end()});
    spdlog::info("{}: handed back {} deliveries still in flight at shutdown", queue_.name(),
                 leases_.size());
  } catch (const std::exception& e) {
    spdlog::warn("{}: could not hand back leases ({}); they run out by themselves", queue_.name(),
                 e.what());
  }
  leases_.clear();
  in_flight_by_group_.clear();
  in_flight_total_ = 0;
}

}  // namespace keyflow
