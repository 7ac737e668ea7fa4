import { Component, type ErrorInfo, type ReactNode } from "react";

/**
 * The top-level error boundary: a rendering error anywhere in the app shows a readable message
 * with a reload button instead of a blank page (React unmounts the whole tree otherwise).
 */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error?: Error }> {
  override state: { error?: Error } = {};

  static getDerivedStateFromError(error: unknown): { error: Error } {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    // The console is where a user or developer looks for details; no secrets are rendered.
    console.warn("the web UI failed to render", error, info.componentStack);
  }

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <main className="page">
        <section className="crash" role="alert">
          <h1>Something went wrong</h1>
          <p>
            This page failed to display: <code>{error.message}</code>
          </p>
          <p>
            Reload the page to try again, or <a href="/applications">go to applications</a>.
          </p>
          <button type="button" className="primary" onClick={() => window.location.reload()}>
            Reload
          </button>
        </section>
      </main>
    );
  }
}
