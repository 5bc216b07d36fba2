/**
 * "Check my work": a notebook toolbar button and a command-palette entry that save the notebook, ask the
 * server extension (autograder_lab) to run `autograder check` on it, and show the result in a side panel
 * whose section headings jump to the cells they name.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, ToolbarButton } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

const COMMAND = 'autograder:check';
const LABEL = 'Check my work';

interface IPlace {
  section: string;
  cell_index: number | null;
  cell_id: string | null;
}

interface ICheck extends IPlace {
  name: string;
  status: 'passed' | 'failed' | 'not attempted' | 'not run';
  message: string;
}

interface ICellError extends IPlace {
  message: string;
  knock_on: ICellError[];
}

interface IReport {
  notebook: string;
  assignment: string | null;
  ready: boolean;
  verdict: string;
  seconds: number;
  timed_out: boolean;
  tampered: string[];
  review: string[];
  checks: ICheck[];
  errors: ICellError[];
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** Scroll the notebook to a cell, found by id first (the file may have changed since), else by position. */
async function goToCell(panel: NotebookPanel, place: IPlace): Promise<void> {
  const notebook = panel.content;
  let index = notebook.widgets.findIndex(cell => place.cell_id !== null && cell.model.id === place.cell_id);
  if (index < 0 && place.cell_index !== null && place.cell_index < notebook.widgets.length) {
    index = place.cell_index;
  }
  if (index < 0) {
    return;
  }
  notebook.activeCellIndex = index;
  await notebook.scrollToCell(notebook.widgets[index], 'start');
}

/** The side panel: one per application, showing the latest check of whichever notebook ran it. */
class CheckPanel extends Widget {
  constructor() {
    super();
    this.id = 'autograder-panel';
    this.addClass('ag-panel');
    this.title.label = 'Autograder';
    this.title.caption = 'The result of "Check my work"';
    this.title.closable = true;
    this.node.appendChild(el('p', 'ag-hint', `Press "${LABEL}" in a notebook's toolbar.`));
  }

  busy(panel: NotebookPanel): void {
    this.node.replaceChildren(el('p', 'ag-busy', `Checking ${panel.context.path} …`));
  }

  failed(message: string): void {
    this.node.replaceChildren(el('p', 'ag-verdict ag-problem', message));
  }

  render(panel: NotebookPanel, report: IReport): void {
    const link = (place: IPlace, fallback: string): HTMLElement => {
      const text = place.section || fallback;
      if (place.cell_index === null && place.cell_id === null) {
        return el('span', 'ag-section', text);
      }
      const a = el('a', 'ag-section ag-goto', text);
      a.href = '#';
      a.title = 'Go to the cell';
      a.onclick = event => {
        event.preventDefault();
        void goToCell(panel, place);
      };
      return a;
    };
    const root = el('div', 'ag-result');
    root.appendChild(el('p', 'ag-notebook', `${panel.context.path} (${report.assignment ?? 'unknown assignment'})`));
    const verdict = el('p', `ag-verdict ${report.ready ? 'ag-ready' : 'ag-not-ready'}`, report.verdict);
    root.appendChild(verdict);

    root.appendChild(el('h3', 'ag-heading', 'Public checks'));
    const checks = el('ul', 'ag-checks');
    for (const check of report.checks) {
      const item = el('li', `ag-check ag-${check.status.replace(' ', '-')}`);
      item.dataset.check = check.name;
      item.appendChild(el('span', 'ag-status', check.status));
      item.appendChild(link(check, check.name));
      if (check.message) {
        item.appendChild(el('div', 'ag-message', check.message));
      }
      checks.appendChild(item);
    }
    root.appendChild(checks);

    const problems = (title: string, lines: string[]): void => {
      if (lines.length) {
        root.appendChild(el('h3', 'ag-heading', title));
        const list = el('ul', 'ag-problems');
        lines.forEach(line => list.appendChild(el('li', 'ag-problem', line)));
        root.appendChild(list);
      }
    };
    problems('Locked cells changed or deleted (restore them from the released notebook)', report.tampered);
    problems('The course staff would have to look at', report.review);

    if (report.errors.length) {
      root.appendChild(el('h3', 'ag-heading', 'Errors while running'));
      const list = el('ul', 'ag-errors');
      for (const error of report.errors) {
        const item = el('li', 'ag-error');
        item.appendChild(link(error, 'a cell'));
        item.appendChild(el('div', 'ag-message', error.message));
        if (error.knock_on.length) {
          const later = el('ul', 'ag-knock-on');
          later.appendChild(el('li', 'ag-knock-on-title', 'which also stops:'));
          for (const k of error.knock_on) {
            const sub = el('li', 'ag-error');
            sub.appendChild(link(k, 'a cell'));
            sub.appendChild(el('div', 'ag-message', k.message));
            later.appendChild(sub);
          }
          item.appendChild(later);
        }
        list.appendChild(item);
      }
      root.appendChild(list);
    }
    const timing = `ran in ${report.seconds.toFixed(1)} s` + (report.timed_out ? ' (timed out)' : '');
    root.appendChild(el('p', 'ag-timing', timing));
    this.node.replaceChildren(root);
  }
}

async function check(panel: NotebookPanel, view: CheckPanel, app: JupyterFrontEnd): Promise<void> {
  if (!view.isAttached) {
    app.shell.add(view, 'right', { rank: 1000 });
  }
  app.shell.activateById(view.id);
  view.busy(panel);
  try {
    await panel.context.save();
    const settings = ServerConnection.makeSettings();
    const response = await ServerConnection.makeRequest(
      URLExt.join(settings.baseUrl, 'autograder', 'check'),
      { method: 'POST', body: JSON.stringify({ path: panel.context.path }) },
      settings
    );
    const body = await response.json();
    if (!response.ok) {
      view.failed(body.message || `The check failed (HTTP ${response.status}).`);
      return;
    }
    view.render(panel, body as IReport);
  } catch (reason) {
    view.failed(`The check could not run: ${reason}`);
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'autograder-lab:plugin',
  description: 'Check my work: the public checks of `autograder check`, from inside JupyterLab.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, palette: ICommandPalette | null) => {
    const view = new CheckPanel();
    app.commands.addCommand(COMMAND, {
      label: LABEL,
      caption: 'Save the notebook and run its public checks, as `autograder check` does',
      isEnabled: () => tracker.currentWidget !== null,
      execute: async () => {
        const panel = tracker.currentWidget;
        if (panel) {
          await check(panel, view, app);
        }
      }
    });
    palette?.addItem({ command: COMMAND, category: 'Autograder' });
    tracker.widgetAdded.connect((_, panel) => {
      const button = new ToolbarButton({
        className: 'ag-check-button',
        label: LABEL,
        tooltip: 'Save the notebook and run its public checks',
        onClick: () => void check(panel, view, app)
      });
      panel.toolbar.insertItem(10, 'autograderCheck', button);
    });
  }
};

export default plugin;
