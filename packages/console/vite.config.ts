import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The app is served at / with its assets under /console/assets (see src/static-app.ts).
export default defineConfig({
  root: 'app',
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: '../dist/app',
    emptyOutDir: true,
    target: 'es2022',
    // Source maps stay out of the shipped bundle; the budget counts what browsers download.
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  resolve: { conditions: ['source'] },
});
