#include "storage/background_md5.h"

#include <string_view>
#include <utility>

namespace pf::storage {

BackgroundMd5::BackgroundMd5(crypto::Md5 so_far, std::size_t depth)
    : md5_(std::move(so_far)), depth_(depth == 0 ? 1 : depth), thread_([this] { run(); }) {}

BackgroundMd5::~BackgroundMd5() {
    {
        std::lock_guard lock(mutex_);
        if (!finished_) {
            queued_.clear();  // abandoned (the write failed): not worth hashing
        }
        closing_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

std::vector<char> BackgroundMd5::hand_off(std::vector<char> buffer, std::size_t size) {
    std::size_t capacity = buffer.size();
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return queued_.size() < depth_; });
    queued_.push_back(Chunk{std::move(buffer), size});
    std::vector<char> next;
    if (!spare_.empty()) {
        next = std::move(spare_.back());
        spare_.pop_back();
    }
    lock.unlock();
    changed_.notify_all();
    if (next.size() != capacity) {
        next.resize(capacity);
    }
    return next;
}

crypto::Digest<16> BackgroundMd5::finish() {
    std::unique_lock lock(mutex_);
    closing_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return finished_; });
    return md5_.finish();
}

void BackgroundMd5::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        changed_.wait(lock, [&] { return !queued_.empty() || closing_; });
        if (queued_.empty()) {
            break;  // closing, and everything is hashed
        }
        Chunk chunk = std::move(queued_.front());
        queued_.pop_front();
        lock.unlock();
        changed_.notify_all();  // a slot is free
        md5_.update(std::string_view(chunk.bytes.data(), chunk.size));
        lock.lock();
        spare_.push_back(std::move(chunk.bytes));
    }
    finished_ = true;
    changed_.notify_all();
}

}  // namespace pf::storage
