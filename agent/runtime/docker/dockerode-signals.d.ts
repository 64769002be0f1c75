/**
 * dockerode 4 accepts an `abortSignal` option on these calls; @types/dockerode does not say so.
 * (Network.inspect is not among them: its options become query parameters.)
 */
import 'dockerode';

declare module 'dockerode' {
  interface AbortOptions {
    abortSignal?: AbortSignal;
  }
  interface Container {
    inspect(options: AbortOptions): Promise<ContainerInspectInfo>;
    start(options: AbortOptions): Promise<void>;
    stop(options: AbortOptions & { t?: number }): Promise<void>;
  }
  interface Image {
    inspect(options: AbortOptions): Promise<ImageInspectInfo>;
  }
}
