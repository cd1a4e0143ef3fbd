import { Component, type ComponentChildren } from 'preact';

/** Props compared one by one (===): a component that renders only when one of them changed. */
export abstract class PureComponent<P extends object> extends Component<P> {
  override shouldComponentUpdate(next: P): boolean {
    const current = this.props as Record<string, unknown>;
    const keys = new Set([...Object.keys(current), ...Object.keys(next)]);
    for (const key of keys) if (key !== 'children' && current[key] !== (next as Record<string, unknown>)[key]) return true;
    return false;
  }
  abstract override render(): ComponentChildren;
}
