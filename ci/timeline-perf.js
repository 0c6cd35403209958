// A probe for `TIMELINE_BENCH=1 ci/timeline-check.sh`, appended to a copy
// of a large timeline page after its viewer: times a full redraw (a resize
// redraws synchronously) with the whole run in view on each axis, then
// zoomed in 32x around the middle, and a click's hit test and details.
// Medians of 9 go to body[data-perf] (milliseconds).
(() => {
  'use strict';
  const canvas = document.querySelector('.tl-canvas');
  const box = canvas.getBoundingClientRect();
  const median = samples => samples.sort((a, b) => a - b)[samples.length >> 1];
  const timed = work => {
    const samples = [];
    for (let k = 0; k < 9; k++) {
      const started = performance.now();
      work();
      samples.push(performance.now() - started);
    }
    return median(samples).toFixed(1);
  };
  const redraw = () => window.dispatchEvent(new Event('resize'));
  const button = text => [...document.querySelectorAll('button')].find(b => b.textContent === text);
  const results = [];
  for (const axis of ['time', 'order']) {
    button(axis).click();
    button('fit').click();
    results.push(axis + '-fit=' + timed(redraw));
    const middle = { bubbles: true, cancelable: true, clientX: box.left + box.width / 2,
      clientY: box.top + box.height / 2 };
    // Each wheel notch of -460 zooms in about 2x.
    for (let k = 0; k < 5; k++) canvas.dispatchEvent(new WheelEvent('wheel', { ...middle, deltaY: -460 }));
    results.push(axis + '-zoomed=' + timed(redraw));
  }
  button('fit').click();
  const lane = document.querySelector('.lane[data-group="file"]').getBoundingClientRect();
  const at = { bubbles: true, cancelable: true, button: 0, clientX: box.left + box.width / 2,
    clientY: lane.top + lane.height / 2 };
  results.push('click=' + timed(() => {
    canvas.dispatchEvent(new MouseEvent('mousedown', at));
    window.dispatchEvent(new MouseEvent('mouseup', at));
  }));
  document.body.dataset.perf = results.join(' ');
})();
