// Headless GLSL check of the CPPN shader (bridge/video/glsl.py): one frame, EGL pbuffer, no X.
//
// Reads a fragment shader (the prelude that stands in for TouchDesigner's already prepended),
// draws one full-screen triangle at --size N with the uniform array uZ from --z (float32 values),
// and writes the N*N*3 RGB bytes, top row first, to --out. EGL_PLATFORM=surfaceless (Mesa
// llvmpipe), as the projectM corpus renderer does. Exit codes: 0 ok, 2 usage, 3 the shader does
// not compile or link (the log on stderr), 4 EGL/GL failure, 5 I/O failure.
#include <EGL/egl.h>
#define GL_GLEXT_PROTOTYPES 1
#include <GL/gl.h>
#include <GL/glext.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

static int die(int code, const std::string &msg) {
    fprintf(stderr, "glsl_render: %s\n", msg.c_str());
    return code;
}

static bool slurp(const std::string &path, std::string &out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    std::stringstream ss;
    ss << f.rdbuf();
    out = ss.str();
    return true;
}

static GLuint compile(GLenum kind, const std::string &src, std::string &log) {
    GLuint s = glCreateShader(kind);
    const char *p = src.c_str();
    glShaderSource(s, 1, &p, nullptr);
    glCompileShader(s);
    GLint ok = 0;
    glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
    if (!ok) {
        char buf[4096];
        glGetShaderInfoLog(s, sizeof buf, nullptr, buf);
        log = buf;
        return 0;
    }
    return s;
}

int main(int argc, char **argv) {
    std::string shader, zpath, out;
    int size = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--shader") shader = next();
        else if (a == "--z") zpath = next();
        else if (a == "--out") out = next();
        else if (a == "--size") size = atoi(next().c_str());
        else return die(2, "unknown argument " + a);
    }
    if (shader.empty() || zpath.empty() || out.empty() || size < 1)
        return die(2, "usage: glsl_render --shader FRAG --z Z.f32 --size N --out RGB");
    std::string frag, zbytes;
    if (!slurp(shader, frag) || !slurp(zpath, zbytes)) return die(5, "cannot read the inputs");
    std::vector<float> z(zbytes.size() / sizeof(float));
    memcpy(z.data(), zbytes.data(), z.size() * sizeof(float));

    EGLDisplay dpy = eglGetDisplay(EGL_DEFAULT_DISPLAY);
    EGLint major, minor;
    if (dpy == EGL_NO_DISPLAY || !eglInitialize(dpy, &major, &minor))
        return die(4, "eglInitialize failed (is libegl-mesa0 installed? EGL_PLATFORM=surfaceless?)");
    const EGLint cfg_attr[] = {EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8,
                               EGL_BLUE_SIZE, 8, EGL_ALPHA_SIZE, 8,
                               EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_NONE};
    EGLConfig cfg;
    EGLint ncfg = 0;
    if (!eglChooseConfig(dpy, cfg_attr, &cfg, 1, &ncfg) || ncfg < 1)
        return die(4, "no EGL config with an OpenGL pbuffer");
    const EGLint surf_attr[] = {EGL_WIDTH, size, EGL_HEIGHT, size, EGL_NONE};
    EGLSurface surf = eglCreatePbufferSurface(dpy, cfg, surf_attr);
    if (surf == EGL_NO_SURFACE) return die(4, "eglCreatePbufferSurface failed");
    eglBindAPI(EGL_OPENGL_API);
    const EGLint ctx_attr[] = {EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 3,
                               EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
                               EGL_NONE};
    EGLContext ctx = eglCreateContext(dpy, cfg, EGL_NO_CONTEXT, ctx_attr);
    if (ctx == EGL_NO_CONTEXT || !eglMakeCurrent(dpy, surf, surf, ctx))
        return die(4, "cannot create an OpenGL 3.3 core context");

    const std::string vert =
        "#version 330 core\n"
        "void main() { vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);\n"
        "  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0); }\n";
    std::string log;
    GLuint vs = compile(GL_VERTEX_SHADER, vert, log);
    if (!vs) return die(4, "vertex shader: " + log);
    GLuint fs = compile(GL_FRAGMENT_SHADER, frag, log);
    if (!fs) return die(3, "fragment shader does not compile: " + log);
    GLuint prog = glCreateProgram();
    glAttachShader(prog, vs);
    glAttachShader(prog, fs);
    glLinkProgram(prog);
    GLint ok = 0;
    glGetProgramiv(prog, GL_LINK_STATUS, &ok);
    if (!ok) {
        char buf[4096];
        glGetProgramInfoLog(prog, sizeof buf, nullptr, buf);
        return die(3, std::string("shader does not link: ") + buf);
    }
    glUseProgram(prog);
    GLint uz = glGetUniformLocation(prog, "uZ");
    if (uz >= 0) glUniform1fv(uz, (GLsizei)z.size(), z.data());
    GLint ures = glGetUniformLocation(prog, "uRes");
    if (ures >= 0) glUniform2f(ures, (float)size, (float)size);
    GLuint vao;
    glGenVertexArrays(1, &vao);
    glBindVertexArray(vao);
    glViewport(0, 0, size, size);
    glDrawArrays(GL_TRIANGLES, 0, 3);
    glFinish();
    std::vector<unsigned char> px((size_t)size * size * 3);
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    glReadPixels(0, 0, size, size, GL_RGB, GL_UNSIGNED_BYTE, px.data());
    if (glGetError() != GL_NO_ERROR) return die(4, "glReadPixels failed");
    FILE *f = fopen(out.c_str(), "wb");
    if (!f) return die(5, "cannot write " + out);
    for (int y = size - 1; y >= 0; --y)  // GL rows are bottom-up; write the top row first
        fwrite(px.data() + (size_t)y * size * 3, 1, (size_t)size * 3, f);
    if (fclose(f) != 0) return die(5, "writing " + out + " failed");
    _exit(0);
}
