// Stops a libvips computation when a deadline passes. libvips signals progress on the most
// downstream image that asked for it; the handler sets libvips' kill flag, and the computation
// then fails promptly. The owner reports that failure as a Timeout when fired() says so.
// Lives for one computation (one copy_memory or one encode) on the calling thread.
#pragma once

#include "base/clock.h"

#include <vips/vips8>

#include <atomic>

namespace pf::imaging {

class EvalDeadline {
public:
    EvalDeadline(const vips::VImage& image, const Deadline& deadline)
        : image_(image.get_image()), deadline_(deadline) {
        vips_image_set_progress(image_, TRUE);
        handler_ = g_signal_connect(image_, "eval", G_CALLBACK(&EvalDeadline::on_eval), this);
    }
    ~EvalDeadline() { g_signal_handler_disconnect(image_, handler_); }
    EvalDeadline(const EvalDeadline&) = delete;
    EvalDeadline& operator=(const EvalDeadline&) = delete;

    bool fired() const { return fired_.load(); }

private:
    static void on_eval(VipsImage* image, VipsProgress*, gpointer self_ptr) {
        auto* self = static_cast<EvalDeadline*>(self_ptr);
        if (self->deadline_.expired()) {
            self->fired_ = true;
            vips_image_set_kill(image, TRUE);
        }
    }

    VipsImage* image_;
    Deadline deadline_;
    gulong handler_ = 0;
    std::atomic<bool> fired_{false};
};

}  // namespace pf::imaging
