#include "consumers/delivery_sender.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include <spdlog/spdlog.h>

#include "consumers/delivery_outcome.hpp"
#include "consumers/first_attempts.hpp"
#include "consumers/signed_request.hpp"

namespace keyflow {
namespace {

std::chrono::milliseconds lease_length(const SenderOptions& o) {
  return o.lease.count() > 0 ? o.lease : o.request_timeout + std::chrono::seconds(30);
}

}  // namespace

// What the sending thread and the client's completion handlers share. Everything but the
// constants is guarded by mutex; nothing is sent while it is held.
struct DeliverySender::State {
  State(WebhookClient& http, const Clock& time, const SenderOptions& options)
      : client(http),
        clock(time),
        user_agent(options.user_agent),
        // A claimed delivery is sent only while its lease outlasts the attempt.
        min_lease_left(options.request_timeout + std::chrono::seconds(5)),
        max_in_flight(options.max_in_flight),
        cap(options.max_in_flight_per_subscription) {}

  WebhookClient& client;
  const Clock& clock;
  const std::string user_agent;
  const std::chrono::milliseconds min_lease_left;
  const std::size_t max_in_flight;
  const std::size_t cap;  // per group

  std::mutex mutex;
  std::condition_variable_any changed;
  std::vector<FinishedAttempt> finished;  // to be recorded
  bool woken = false;
  // Set when the sender stops: completions start nothing more.
  bool stopping = false;
  std::unordered_map<std::string, std::size_t> in_flight_by_group;
  std::size_t in_flight_total = 0;
  // Of those in flight or ready, the first attempts the fan-out handed over (send_first): they
  // take no room from what the sender claims, so that one receiver's backlog of first attempts
  // never holds up the retries of every other.
  std::size_t first_held = 0;
  // Claimed and leased, waiting for a slot of their group.
  std::unordered_map<std::string, std::deque<DueDelivery>> ready;
  std::size_t ready_total = 0;
  // Claimed but not sent in time (their lease ran short): to hand back.
  std::vector<std::pair<std::string, TimePoint>> unsent;
  // Leases of first attempts whose deliveries the fan-out wrote: the sending thread's now.
  std::vector<std::pair<std::string, TimePoint>> adopted;

  // Under mutex: a finished attempt, kept by its first-attempt batch or to be recorded here.
  // Whether the sending thread has to be woken: it records what it finds here, and at
  // shutdown it waits for the last attempt in flight. (A wake per first attempt would cost a
  // thread switch each.)
  bool finish(FinishedAttempt attempt, const std::shared_ptr<FirstAttempts>& first) {
    if (first && first->take(attempt)) return stopping;
    finished.push_back(std::move(attempt));
    return true;
  }

  // Under mutex: the group's next ready delivery, counted in flight.
  std::optional<DueDelivery> take_ready(const std::string& group) {
    const auto it = ready.find(group);
    if (it == ready.end()) return std::nullopt;
    auto due = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) ready.erase(it);
    --ready_total;
    ++in_flight_by_group[group];
    ++in_flight_total;
    return due;
  }

  // Under mutex: ready deliveries that fit under the caps, counted in flight.
  std::vector<DueDelivery> take_startable() {
    std::vector<DueDelivery> starting;
    for (auto it = ready.begin(); it != ready.end() && in_flight_total < max_in_flight;) {
      const auto group = it++->first;  // take_ready may erase it
      for (;;) {
        const auto held = in_flight_by_group.find(group);
        if (in_flight_total >= max_in_flight ||
            (held != in_flight_by_group.end() && held->second >= cap)) {
          break;
        }
        auto next = take_ready(group);
        if (!next) break;
        starting.push_back(std::move(*next));
      }
    }
    return starting;
  }

  // Under mutex: what a slot that `group` gave back goes to: the group's next ready delivery,
  // else any that fit (a first attempt's completion wakes no sending thread to do it).
  std::vector<DueDelivery> take_after(const std::string& group) {
    std::vector<DueDelivery> next;
    if (stopping) return next;
    if (auto due = take_ready(group)) {
      next.push_back(std::move(*due));
      return next;
    }
    return take_startable();
  }

  // Under mutex: a delivery that waits for a slot of its group.
  void enqueue(DueDelivery due) {
    const auto group = due.claim.group;
    ready[group].push_back(std::move(due));
    ++ready_total;
  }

  // Under mutex: a slot given back.
  void free_slot(const std::string& group, bool first_attempt) {
    const auto it = in_flight_by_group.find(group);
    if (it != in_flight_by_group.end() && --it->second == 0) in_flight_by_group.erase(it);
    --in_flight_total;
    if (first_attempt) --first_held;
  }

  // Sends a delivery that holds a slot; when it is done, the slot goes to the group's next
  // ready delivery. Without the mutex.
  static void start(const std::shared_ptr<State>& self, DueDelivery due) {
    for (;;) {
      const auto now = self->clock.now();
      const auto group = due.claim.group;
      if (due.claim.lease_until - now < self->min_lease_left) {
        std::lock_guard lock(self->mutex);
        self->unsent.emplace_back(due.claim.delivery_id, due.claim.lease_until);
        self->free_slot(due.claim.group, due.first != nullptr);
      } else if (auto request = signed_request(due, now, self->user_agent)) {
        self->client.post(std::move(*request),
                          [self, claim = std::move(due.claim), now,
                           first = std::move(due.first)](WebhookResponse response) {
                            std::vector<DueDelivery> next;
                            bool wake = false;
                            {
                              std::lock_guard lock(self->mutex);
                              wake = self->finish({claim, now, std::move(response)}, first);
                              self->free_slot(claim.group, first != nullptr);
                              next = self->take_after(claim.group);
                            }
                            if (wake) self->changed.notify_all();
                            for (auto& ready_next : next)
                              start(self, std::move(ready_next));
                          });
        return;
      } else {
        WebhookResponse response;
        response.error = "the signing secret is malformed";
        std::lock_guard lock(self->mutex);
        const bool first_attempt = due.first != nullptr;
        self->finish({std::move(due.claim), now, std::move(response)}, due.first);
        self->free_slot(group, first_attempt);
      }
      // Not sent: the slot goes to the next one right away.
      std::vector<DueDelivery> next;
      {
        std::lock_guard lock(self->mutex);
        next = self->take_after(group);
      }
      self->changed.notify_all();
      if (next.empty()) return;
      for (std::size_t i = 1; i < next.size(); ++i)
        start(self, std::move(next[i]));
      due = std::move(next.front());
    }
  }
};

DeliverySender::DeliverySender(DeliveryQueue& queue, WebhookClient& client, const Clock& clock,
                               SenderOptions options)
    : queue_(queue),
      clock_(clock),
      options_(std::move(options)),
      schedule_(options_.retry),
      state_(std::make_shared<State>(client, clock, options_)) {}

DeliverySender::~DeliverySender() {
  std::lock_guard lock(state_->mutex);
  state_->stopping = true;
}

double DeliverySender::jitter() const {
  return options_.jitter ? options_.jitter() : random_jitter();
}

void DeliverySender::wake() {
  {
    std::lock_guard lock(state_->mutex);
    state_->woken = true;
  }
  state_->changed.notify_all();
}

std::size_t DeliverySender::dispatch_due() {
  const auto now = clock_.now();
  const auto cap = options_.max_in_flight_per_subscription;
  // How far ahead of its sending a group is claimed: one cap more, without a rate limit.
  const auto depth = [&](std::optional<int> rate_limit) { return rate_limit ? cap : 2 * cap; };

  // What each group holds now. Completions only move deliveries from ready to in flight or
  // out, so these counts can only overstate what a group holds while the claim runs.
  std::unordered_map<std::string, std::size_t> held;
  std::size_t held_total = 0;
  std::vector<std::pair<std::string, TimePoint>> unsent;
  {
    std::lock_guard lock(state_->mutex);
    for (const auto& [group, n] : state_->in_flight_by_group)
      held[group] += n;
    for (const auto& [group, queued] : state_->ready)
      held[group] += queued.size();
    held_total = state_->in_flight_total + state_->ready_total - state_->first_held;
    unsent.swap(state_->unsent);
  }
  if (!unsent.empty()) {
    for (const auto& [id, lease] : unsent)
      leases_.erase(id);
    queue_.release(unsent);
  }

  std::vector<std::string> saturated;
  for (const auto& [group, n] : held) {
    const auto limited = rate_limits_.find(group) != rate_limits_.end();
    if (n >= depth(limited ? std::optional<int>(1) : std::nullopt)) saturated.push_back(group);
  }
  for (auto it = rate_limits_.begin(); it != rate_limits_.end();) {
    if (it->second.full(now) && !held.contains(it->first)) {
      it = rate_limits_.erase(it);  // idle for a second: forget it
      continue;
    }
    if (it->second.empty(now)) saturated.push_back(it->first);
    ++it;
  }

  std::vector<DueDelivery> claimed;
  const auto room = 2 * options_.max_in_flight;
  if (held_total < room) {
    std::unordered_map<std::string, std::size_t> taken;
    const auto admit = [&](const std::string& group, std::optional<int> rate_limit) {
      const auto it = held.find(group);
      auto& count = taken[group];
      if ((it == held.end() ? 0 : it->second) + count >= depth(rate_limit)) return false;
      if (rate_limit) {
        auto bucket = rate_limits_.try_emplace(group, *rate_limit, now).first;
        if (bucket->second.rate() != *rate_limit) bucket->second = TokenBucket(*rate_limit, now);
        if (!bucket->second.take(now)) return false;
      }
      ++count;
      return true;
    };
    claimed = queue_.claim(now, now + lease_length(options_), room - held_total, saturated, admit);
  }

  // Queue what was claimed, then take from every group what fits in flight.
  std::vector<DueDelivery> starting;
  {
    std::lock_guard lock(state_->mutex);
    for (auto& d : claimed) {
      leases_[d.claim.delivery_id] = d.claim.lease_until;
      if (!d.error.empty()) {
        // It cannot be signed: a failed attempt, without sending.
        WebhookResponse response;
        response.error = std::move(d.error);
        state_->finished.push_back({std::move(d.claim), now, std::move(response)});
        continue;
      }
      state_->enqueue(std::move(d));
    }
    starting = state_->take_startable();
  }
  for (auto& d : starting)
    State::start(state_, std::move(d));
  return claimed.size();
}

std::size_t DeliverySender::record_finished() {
  std::vector<FinishedAttempt> batch;
  {
    std::lock_guard lock(state_->mutex);
    batch.swap(state_->finished);
    // Adopted leases join ours before what finished is recorded (and its lease forgotten): an
    // adopted attempt may have finished already.
    for (auto& [id, lease] : state_->adopted)
      leases_[id] = lease;
    state_->adopted.clear();
  }
  if (batch.empty()) return 0;
  const auto now = clock_.now();
  std::vector<DeliveryResult> results;
  results.reserve(batch.size());
  for (const auto& f : batch)
    results.push_back(decide(f, now));
  try {
    queue_.record(results, now);
  } catch (...) {
    // Keep them for the next round, ahead of what arrived meanwhile.
    std::lock_guard lock(state_->mutex);
    batch.insert(batch.end(), std::make_move_iterator(state_->finished.begin()),
                 std::make_move_iterator(state_->finished.end()));
    state_->finished = std::move(batch);
    throw;
  }
  for (const auto& result : results)
    leases_.erase(result.claim.delivery_id);
  recorded(results);
  return batch.size();
}

DeliveryResult DeliverySender::decide(const FinishedAttempt& f, TimePoint now) const {
  const auto& schedule = f.claim.retry ? *f.claim.retry : schedule_;
  return {f.claim, f.attempted_at, f.response,
          decide_outcome(f.response, f.claim.attempt, now, schedule, jitter())};
}

void DeliverySender::recorded(const std::vector<DeliveryResult>& results) const {
  if (options_.metrics) options_.metrics->record(results);
  const bool debug = spdlog::should_log(spdlog::level::debug);
  for (const auto& result : results) {
    const bool dead = result.outcome.status == "dead";
    if (!dead && !debug) continue;
    const auto& r = result.response;
    const auto what = r.error.empty() ? "HTTP " + std::to_string(r.status_code) : r.error;
    if (dead) {
      spdlog::warn("{}: {} is dead after {} attempts (last: {})", queue_.name(),
                   result.claim.delivery_id, result.claim.attempt, what);
    } else {
      spdlog::debug("{}: {} attempt {}: {} in {} ms -> {}", queue_.name(), result.claim.delivery_id,
                    result.claim.attempt, what, r.latency.count(), result.outcome.status);
    }
  }
}

std::size_t DeliverySender::held(const std::string& group) const {
  std::lock_guard lock(state_->mutex);
  std::size_t n = 0;
  if (const auto it = state_->in_flight_by_group.find(group);
      it != state_->in_flight_by_group.end())
    n += it->second;
  if (const auto it = state_->ready.find(group); it != state_->ready.end()) n += it->second.size();
  return n;
}

void DeliverySender::send_first(std::vector<DueDelivery> deliveries) {
  std::vector<DueDelivery> starting;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopping) return;  // never sent: written leased, retried after the lease
    state_->first_held += deliveries.size();
    for (auto& d : deliveries)
      state_->enqueue(std::move(d));
    starting = state_->take_startable();
  }
  for (auto& d : starting)
    State::start(state_, std::move(d));
}

void DeliverySender::adopt(std::vector<FinishedAttempt> late,
                           std::vector<std::pair<std::string, TimePoint>> leases) {
  {
    std::lock_guard lock(state_->mutex);
    state_->adopted.insert(state_->adopted.end(), std::make_move_iterator(leases.begin()),
                           std::make_move_iterator(leases.end()));
    state_->finished.insert(state_->finished.end(), std::make_move_iterator(late.begin()),
                            std::make_move_iterator(late.end()));
  }
  state_->changed.notify_all();
}

void DeliverySender::wait(std::stop_token& stop, std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mutex);
  state_->changed.wait_for(lock, stop, timeout, [&] {
    return state_->woken || !state_->finished.empty() || !state_->unsent.empty();
  });
  // Then gather for a moment, unless much is waiting: recording and claiming cost a few
  // database round trips whatever their size, while sending goes on from what is claimed.
  if (!state_->finished.empty() && options_.gather.count() > 0) {
    state_->changed.wait_for(lock, stop, options_.gather, [&] {
      return state_->finished.size() * 2 >= state_->in_flight_total + state_->ready_total;
    });
  }
  state_->woken = false;
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
  {
    // What is claimed but not started stays so: its lease is handed back below.
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    state_->ready.clear();
    state_->ready_total = 0;
  }
  const auto until = std::chrono::steady_clock::now() + options_.shutdown_grace;
  for (;;) {
    try {
      record_finished();
    } catch (const std::exception& e) {
      spdlog::warn("{}: sender: {}", queue_.name(), e.what());
      break;
    }
    std::unique_lock lock(state_->mutex);
    if (state_->in_flight_total == 0 && state_->finished.empty()) break;
    if (!state_->changed.wait_until(lock, until, [&] {
          return !state_->finished.empty() || state_->in_flight_total == 0;
        })) {
      break;
    }
  }
  if (leases_.empty()) return;
  // The attempts still running may or may not reach their receivers; handing the deliveries
  // back now lets another sender retry them at once instead of after the lease (same id, so a
  // receiver can drop the duplicate).
  try {
    queue_.release({leases_.begin(), leases_.end()});
    spdlog::info("{}: handed back {} deliveries claimed but not recorded at shutdown",
                 queue_.name(), leases_.size());
  } catch (const std::exception& e) {
    spdlog::warn("{}: could not hand back leases ({}); they run out by themselves", queue_.name(),
                 e.what());
  }
  leases_.clear();
}

}  // namespace keyflow
