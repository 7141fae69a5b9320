"""The notebooks in JupyterLab (`make lab`), in Chromium on a closed network.

A committed notebook shows its plots as soon as it opens, with no kernel and no
request leaving the machine (BokehJS and Panel are inside it); and once run,
its Panel widget talks to the kernel: a choice made in the page is the value
the kernel sees.
"""
from __future__ import annotations

import pytest

from ._browser import new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# the kernel's answer to a snippet, as the notebook panel's kernel gives it (stdout only)
_RUN_IN_KERNEL = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code});
  let out = "";
  future.onIOPub = (msg) => { if (msg.header.msg_type === "stream") out += msg.content.text; };
  await future.done;
  return out;
}"""


_KERNEL_IDLE = """(name) => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.context || panel.context.path !== name) return false;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
                 && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === "idle" && panel.content.widgets.length > 10;
}"""
# clear the outputs, run the cells down to the one making the widget (the rest is not needed) and
# wait for them: their index and execution counts
_RUN_TO_WIDGET = """async () => {
  const app = window.jupyterapp, panel = app.shell.currentWidget, notebook = panel.content;
  const index = notebook.widgets.findIndex((c) => c.model.sharedModel.getSource().includes("pn.widgets.Select"));
  const code = notebook.widgets.slice(0, index + 1).filter((c) => c.model.type === "code");
  await app.commands.execute("notebook:clear-all-cell-outputs");
  for (const cell of code) { cell.model.executionCount = null; }
  notebook.activeCellIndex = index;
  await app.commands.execute("notebook:run-all-above");
  await app.commands.execute("notebook:run-cell");
  const deadline = Date.now() + 300000;
  while (Date.now() < deadline && !(code.every((c) => c.model.executionCount !== null)
                                    && panel.sessionContext.session.kernel.status === "idle")) {
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return {index, counts: code.map((c) => c.model.executionCount)};
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser):
    import _lab
    import test_notebooks

    home = tmp_path_factory.mktemp("lab")
    # JupyterLab would autosave the notebooks run here into the repository (and jupytext their .py)
    settings = home / "config" / "lab" / "user-settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text('{"autosave": false}')
    db = test_notebooks.build.demo_db(tmp_path_factory.mktemp("lab-demo"))
    before = {p: p.read_bytes() for p in test_notebooks.NOTEBOOKS + test_notebooks.SOURCES}
    with _lab.running_lab(home, env={"OPEVAL_DB": str(db)},
                          args="--LabApp.expose_app_in_browser=True") as running:
        yield running
    assert [p.name for p, text in before.items() if p.read_bytes() != text] == [], "the test changed a notebook"


def _open(browser, lab, name: str):
    context, page, watch = new_page(browser, 1400, 1800)
    # a workspace of its own, reset: JupyterLab would otherwise reopen the notebooks of the previous page
    page.goto(f"{lab.url}/lab/workspaces/{name.split('-')[0]}/tree/{name}?reset&token={lab.token}",
              wait_until="domcontentloaded")
    return context, page, watch


def test_a_committed_notebook_shows_its_plot_offline(browser, lab):
    context, page, watch = _open(browser, lab, "04-outage-correlation-and-blacklist.ipynb")
    try:
        page.locator(".jp-OutputArea-output canvas").first.wait_for(timeout=60_000)
        assert not watch.external(), f"requests leaving the machine: {watch.external()}"
    finally:
        context.close()


def test_a_panel_widget_drives_the_kernel(browser, lab):
    context, page, watch = _open(browser, lab, "03b-alarm-analysis-demo.ipynb")
    try:
        page.wait_for_function(_KERNEL_IDLE, arg="03b-alarm-analysis-demo.ipynb", timeout=120_000)
        ran = page.evaluate(_RUN_TO_WIDGET)
        assert ran["index"] > 0 and ran["counts"] and all(ran["counts"]), ran
        assert page.evaluate(_RUN_IN_KERNEL, "print(choice.value)").strip() == "('SYS-0005', 'Motion detected')"
        select = page.locator("select", has=page.locator("option", has_text="SYS-0005 · Motion detected"))
        labels = [t.strip() for t in select.locator("option").all_inner_texts()]
        other = next(label for label in labels if label != "SYS-0005 · Motion detected")
        select.select_option(label=other)
        chosen = "print(choice.labels[choice.values.index(choice.value)])"
        page.wait_for_function(f"async () => (await ({_RUN_IN_KERNEL})({chosen!r})).trim() === {other!r}",
                               timeout=30_000)
        assert not watch.external(), f"requests leaving the machine: {watch.external()}"
        assert not watch.page_errors, watch.page_errors
    finally:
        context.close()
