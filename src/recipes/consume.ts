// A library recipe's "nginx" templates (configureArgs, ccOpt, ldOpt) filled for one component:
// the planner fills them into nginx's ./configure arguments, the FreeBSD port into its Makefile.
// A leaf: the port reaches this, not the planner.
import type { PlanComponent } from '../plan.ts';

/**
 * Fill `{dir}` (the component's tree as nginx's configure sees it: ../<layout>) and `{options}`
 * (the profile's options for it) in a consume template: nginx's configure arguments here, the
 * FreeBSD port's the same way.
 */
export function fillConsume(template: string, c: Pick<PlanComponent, 'layout' | 'options'>): string {
  return template.replaceAll('{dir}', `../${c.layout}`).replaceAll('{options}', c.options.join(' '));
}
