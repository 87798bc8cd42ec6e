/**
 * The playground: one self-contained page (no build step, no external assets) so a person can
 * try the served model from a browser pointed at the pod or a port-forward.
 */
export const PLAYGROUND_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sentiment playground</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1f2933; background: #f5f7fa; }
  main { max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  #model { color: #52606d; font-size: .9rem; margin-bottom: 1rem; }
  textarea { width: 100%; min-height: 7rem; font: inherit; padding: .6rem; box-sizing: border-box; border: 1px solid #cbd2d9; border-radius: 6px; }
  button { margin-top: .6rem; font: inherit; padding: .5rem 1.2rem; border: 0; border-radius: 6px; background: #3e4c59; color: white; cursor: pointer; }
  button:disabled { opacity: .6; cursor: wait; }
  #result { margin-top: 1.4rem; }
  #label { font-size: 1.3rem; font-weight: 600; }
  .row { display: grid; grid-template-columns: 7rem 1fr 4rem; align-items: center; gap: .6rem; margin: .35rem 0; }
  .track { background: #e4e7eb; border-radius: 4px; height: .9rem; overflow: hidden; }
  .bar { background: #3e4c59; height: 100%; }
  .bar.positive { background: #2f9e44; } .bar.negative { background: #c92a2a; }
  #warnings { color: #b35c00; font-size: .9rem; }
  #error { color: #c92a2a; }
</style>
</head>
<body>
<main>
  <h1>Sentiment playground</h1>
  <div id="model">loading model…</div>
  <label for="text">Text</label>
  <textarea id="text" placeholder="Type a sentence, e.g. A warm, funny and beautifully acted film."></textarea>
  <button id="analyze">Analyze</button>
  <div id="result" hidden>
    <div>Label: <span id="label"></span> <span id="score"></span></div>
    <div id="scores"></div>
    <div id="warnings"></div>
  </div>
  <div id="error"></div>
</main>
<script>
  const $ = (id) => document.getElementById(id);
  fetch('v1/model').then((r) => r.json()).then((m) => {
    $('model').textContent = m.name + ' · revision ' + m.revision + ' · ' + m.quantization + ' on ' + m.executionProvider;
  }).catch(() => { $('model').textContent = 'model information unavailable'; });

  async function analyze() {
    const text = $('text').value;
    $('error').textContent = '';
    $('analyze').disabled = true;
    try {
      const response = await fetch('v1/sentiment', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || response.statusText);
      const result = body.results[0];
      $('label').textContent = result.label;
      $('score').textContent = '(' + result.score.toFixed(4) + ')';
      $('scores').replaceChildren(...result.scores.map((s) => {
        const row = document.createElement('div');
        row.className = 'row';
        row.dataset.label = s.label;
        row.innerHTML = '<span class="name"></span><div class="track"><div class="bar"></div></div><span class="value"></span>';
        row.querySelector('.name').textContent = s.label;
        row.querySelector('.bar').classList.add(s.label);
        row.querySelector('.bar').style.width = (s.score * 100).toFixed(1) + '%';
        row.querySelector('.value').textContent = s.score.toFixed(4);
        return row;
      }));
      $('warnings').textContent = result.warnings.join(' ');
      $('result').hidden = false;
    } catch (error) {
      $('result').hidden = true;
      $('error').textContent = String(error.message || error);
    } finally {
      $('analyze').disabled = false;
    }
  }
  $('analyze').addEventListener('click', analyze);
  $('text').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) analyze(); });
</script>
</body>
</html>
`;
