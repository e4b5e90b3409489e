/**
 * One Content-Security-Policy for the renderer in Electron and in browser mode: only our own code,
 * no remote content. 'wasm-unsafe-eval' lets Cornerstone3D's codecs compile WebAssembly; blob:
 * workers are how it starts its web workers; 'self' covers browser mode's API socket (same host).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')
