// vjbridge corpus renderer: one Milkdrop preset, one piece of audio, offline and deterministic.
//
// Why a C++ program: Debian bookworm ships libprojectM 3.1.12, which has only a C++ API (no
// projectm_pcm_add_float C API, no Python binding). Python (bridge/training/corpus/renderer.py)
// compiles this file on demand with g++ and talks to it through files and pipes:
//
//   render --preset P.milk --size W H --fps F --rate SR --frames N --audio PATH|- --out-fd FD
//
// Audio: float32 interleaved stereo at SR, read completely before rendering starts.
// Frame i: push exactly the samples [floor(i*SR/F), floor((i+1)*SR/F)), render, read the pixels
// back, write W*H*3 bytes of RGB (top row first) to FD. So frame i shows the visualizer after the
// audio of [i/F, (i+1)/F) was pushed.
//
// Determinism: libprojectM reads the wall clock (gettimeofday, time, std::chrono::system_clock),
// which drives preset time, beat detection timing and srand(). This file defines those symbols
// (linked with -rdynamic so they interpose the C library's for libprojectM too) and returns a clock
// that starts at a fixed epoch and advances exactly 1/F per rendered frame. Two runs with the same
// inputs give byte-identical frames.
//
// libprojectM prints a stray byte to stdout, so frames never go to stdout: they go to FD.
// Exit codes: 0 ok, 2 usage, 3 preset failed to load, 4 EGL/GL failure, 5 I/O failure.

#define GL_GLEXT_PROTOTYPES 1
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GL/gl.h>
#include <GL/glext.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <ctime>
#include <string>
#include <vector>

#include <libprojectM/projectM.hpp>

// ---------------------------------------------------------------- deterministic clock
static long long g_frame = 0;   // frames rendered so far
static long long g_fps = 30;
static const long long kEpoch = 1600000000LL;  // fixed start: 2020-09-13T12:26:40Z

static long long clock_ns() { return kEpoch * 1000000000LL + g_frame * 1000000000LL / g_fps; }

extern "C" int gettimeofday(struct timeval *tv, void * /*tz*/) {
    long long ns = clock_ns();
    if (tv) {
        tv->tv_sec = (time_t)(ns / 1000000000LL);
        tv->tv_usec = (suseconds_t)((ns % 1000000000LL) / 1000);
    }
    return 0;
}

extern "C" time_t time(time_t *out) {
    time_t t = (time_t)(clock_ns() / 1000000000LL);
    if (out) *out = t;
    return t;
}

// std::chrono::_V2::system_clock::now(): a time_point holding nanoseconds since the epoch.
extern "C" long long vj_system_clock_now() __asm__("_ZNSt6chrono3_V212system_clock3nowEv");
extern "C" long long vj_system_clock_now() { return clock_ns(); }

// ---------------------------------------------------------------- projectM with failure report
class Engine : public projectM {
  public:
    using projectM::projectM;
    mutable bool failed = false;
    mutable std::string message;
    void presetSwitchFailedEvent(bool, unsigned int, const std::string &msg) const override {
        failed = true;
        message = msg;
    }
};

static int die(int code, const std::string &msg) {
    fprintf(stderr, "render: %s\n", msg.c_str());
    return code;
}

static bool write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool read_audio(const std::string &path, std::vector<float> &out) {
    FILE *f = path == "-" ? stdin : fopen(path.c_str(), "rb");
    if (!f) return false;
    float buf[8192];
    size_t got;
    while ((got = fread(buf, sizeof(float), 8192, f)) > 0) out.insert(out.end(), buf, buf + got);
    bool ok = !ferror(f);
    if (f != stdin) fclose(f);
    return ok;
}

int main(int argc, char **argv) {
    std::string preset, audio = "-", datadir = "/usr/share/projectM";
    int width = 128, height = 128, rate = 44100, out_fd = -1, texsize = 512;
    long long frames = -1;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--preset") preset = next();
        else if (a == "--size") { width = atoi(next().c_str()); height = atoi(next().c_str()); }
        else if (a == "--fps") g_fps = atoll(next().c_str());
        else if (a == "--rate") rate = atoi(next().c_str());
        else if (a == "--frames") frames = atoll(next().c_str());
        else if (a == "--audio") audio = next();
        else if (a == "--out-fd") out_fd = atoi(next().c_str());
        else if (a == "--texsize") texsize = atoi(next().c_str());
        else if (a == "--datadir") datadir = next();
        else return die(2, "unknown argument " + a);
    }
    if (preset.empty() || out_fd < 0 || width < 16 || height < 16 || g_fps < 1 || rate < 8000)
        return die(2, "usage: render --preset P --out-fd FD [--size W H] [--fps F] [--rate SR] "
                      "[--frames N] [--audio PATH|-] [--texsize T]");

    std::vector<float> pcm;
    if (!read_audio(audio, pcm)) return die(5, "cannot read audio from " + audio);
    long long total = (long long)(pcm.size() / 2);
    if (frames < 0) frames = total * g_fps / rate;

    // EGL pbuffer, no window system (EGL_PLATFORM=surfaceless is set by the caller).
    EGLDisplay dpy = eglGetDisplay(EGL_DEFAULT_DISPLAY);
    EGLint major, minor;
    if (dpy == EGL_NO_DISPLAY || !eglInitialize(dpy, &major, &minor))
        return die(4, "eglInitialize failed (is libegl-mesa0 installed? EGL_PLATFORM=surfaceless?)");
    const EGLint cfg_attr[] = {EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8,
                               EGL_BLUE_SIZE, 8, EGL_ALPHA_SIZE, 8, EGL_DEPTH_SIZE, 24,
                               EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_NONE};
    EGLConfig cfg;
    EGLint ncfg = 0;
    if (!eglChooseConfig(dpy, cfg_attr, &cfg, 1, &ncfg) || ncfg < 1)
        return die(4, "no EGL config with an OpenGL pbuffer");
    const EGLint surf_attr[] = {EGL_WIDTH, width, EGL_HEIGHT, height, EGL_NONE};
    EGLSurface surf = eglCreatePbufferSurface(dpy, cfg, surf_attr);
    if (surf == EGL_NO_SURFACE) return die(4, "eglCreatePbufferSurface failed");
    eglBindAPI(EGL_OPENGL_API);
    const EGLint ctx_attr[] = {EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 3,
                               EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
                               EGL_NONE};
    EGLContext ctx = eglCreateContext(dpy, cfg, EGL_NO_CONTEXT, ctx_attr);
    if (ctx == EGL_NO_CONTEXT || !eglMakeCurrent(dpy, surf, surf, ctx))
        return die(4, "cannot create an OpenGL 3.3 core context");

    projectM::Settings s;
    s.meshX = 32;
    s.meshY = 24;
    s.fps = (int)g_fps;
    s.textureSize = texsize;
    s.windowWidth = width;
    s.windowHeight = height;
    s.datadir = datadir;
    s.presetURL = datadir + "/presets";
    s.smoothPresetDuration = 0;
    s.presetDuration = 1000000;
    s.hardcutEnabled = false;
    s.shuffleEnabled = false;
    s.softCutRatingsEnabled = false;
    s.beatSensitivity = 1.0f;
    s.aspectCorrection = true;
    s.easterEgg = 0.0f;

    Engine pm(s, projectM::FLAG_DISABLE_PLAYLIST_LOAD);
    pm.projectM_resetGL(width, height);
    unsigned index = pm.addPresetURL(preset, "preset", RatingList(TOTAL_RATING_TYPES, 3));
    pm.selectPreset(index, true);
    pm.setPresetLock(true);
    if (pm.failed || pm.getErrorLoadingCurrentPreset())
        return die(3, "preset failed to load: " + preset + (pm.message.empty() ? "" : " (" + pm.message + ")"));

    std::vector<unsigned char> px((size_t)width * height * 3), row((size_t)width * 3);
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    for (long long i = 0; i < frames; ++i) {
        long long a = i * rate / g_fps, b = (i + 1) * rate / g_fps;
        // The clock reads frame i's start while its audio is pushed and it is rendered; the
        // engine's own frame timer thus sees exactly 1/F between consecutive frames.
        g_frame = i;
        for (long long k = a; k < b; k += 1024) {
            long long n = std::min(b, k + 1024) - k;
            static std::vector<float> zeros;
            const float *src;
            if (k + n <= total) {
                src = pcm.data() + 2 * k;
            } else {  // past the end of the audio: silence
                zeros.assign((size_t)(2 * n), 0.0f);
                for (long long j = k; j < std::min(k + n, total); ++j) {
                    zeros[2 * (j - k)] = pcm[2 * j];
                    zeros[2 * (j - k) + 1] = pcm[2 * j + 1];
                }
                src = zeros.data();
            }
            pm.pcm()->addPCMfloat_2ch(src, (int)n);
        }
        pm.renderFrame();
        glBindFramebuffer(GL_READ_FRAMEBUFFER, 0);
        glReadBuffer(GL_BACK);
        glFinish();
        glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE, px.data());
        if (pm.failed) return die(3, "preset failed while rendering: " + preset + " (" + pm.message + ")");
        for (int y = 0; y < height / 2; ++y) {  // GL rows are bottom-up; write top row first
            unsigned char *top = px.data() + (size_t)y * width * 3;
            unsigned char *bot = px.data() + (size_t)(height - 1 - y) * width * 3;
            memcpy(row.data(), top, row.size());
            memcpy(top, bot, row.size());
            memcpy(bot, row.data(), row.size());
        }
        if (!write_all(out_fd, px.data(), px.size())) return die(5, "writing frames failed");
    }
    if (close(out_fd) != 0) return die(5, "closing the frame output failed");
    fprintf(stderr, "render: ok frames=%lld\n", frames);
    fflush(stderr);
    _exit(0);  // skip projectM's and EGL's teardown: nothing left to save, and it is slow
}
