#include "storage/blob_reclaimer.h"

#include "storage/logger.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pf::storage {

BlobReclaimer::Ticket& BlobReclaimer::Ticket::operator=(Ticket&& other) noexcept {
    if (this != &other) {
        reset();
        owner_ = std::move(other.owner_);
        epoch_ = other.epoch_;
    }
    return *this;
}

void BlobReclaimer::Ticket::reset() {
    if (owner_) {
        owner_->leave(epoch_);
        owner_.reset();
    }
}

BlobReclaimer::Ticket BlobReclaimer::enter() {
    std::lock_guard lock(mutex_);
    readers_.insert(sequence_);
    return Ticket(shared_from_this(), sequence_);
}

void BlobReclaimer::leave(std::uint64_t epoch) {
    std::unique_lock lock(mutex_);
    readers_.erase(readers_.find(epoch));
    sweep(lock);
}

void BlobReclaimer::committed(std::vector<std::string> blobs) {
    std::unique_lock lock(mutex_);
    ++sequence_;
    for (auto& blob : blobs) {
        pending_.emplace_back(sequence_, std::move(blob));
    }
    sweep(lock);
}

void BlobReclaimer::sweep(std::unique_lock<std::mutex>& lock) {
    std::vector<std::string> ready;
    while (!pending_.empty() && (readers_.empty() || pending_.front().first <= *readers_.begin())) {
        ready.push_back(std::move(pending_.front().second));
        pending_.pop_front();
    }
    if (ready.empty()) {
        return;
    }
    lock.unlock();
    std::vector<std::string> done;
    done.reserve(ready.size());
    for (auto& id : ready) {
        auto path = layout_.blob_path(id);
        if (::unlink(path.c_str()) == 0 || errno == ENOENT) {
            done.push_back(std::move(id));
        } else {
            // The trash row stays, so the next open retries.
            log().warn("event=unlink_failed path={} error=\"{}\"", path.string(),
                       std::strerror(errno));
        }
    }
    lock.lock();
    for (auto& id : done) {
        unlinked_.push_back(std::move(id));
    }
}

std::vector<std::string> BlobReclaimer::take_unlinked() {
    std::lock_guard lock(mutex_);
    return std::exchange(unlinked_, {});
}

std::size_t BlobReclaimer::pending() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
}

}  // namespace pf::storage
