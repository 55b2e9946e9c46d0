// Lists posts and adds new ones through the API. Text goes in with textContent only,
// so a post is always shown as text, never as markup.
const list = document.getElementById('posts');
const more = document.getElementById('more');
const listStatus = document.getElementById('list-status');
const form = document.getElementById('new-post');
const formStatus = document.getElementById('form-status');
let next = null;

function renderPost(post) {
  const item = document.createElement('li');
  const meta = document.createElement('p');
  meta.className = 'meta';
  const author = document.createElement('strong');
  author.textContent = post.author;
  const time = document.createElement('time');
  time.dateTime = post.createdAt;
  time.textContent = new Date(post.createdAt).toLocaleString();
  meta.append(author, ' · ', time);
  const body = document.createElement('p');
  body.className = 'body';
  body.textContent = post.body;
  item.append(meta, body);
  return item;
}

async function errorMessage(response) {
  try {
    const problem = await response.json();
    return problem.message ?? `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

async function loadPosts(before) {
  const query = before ? `?before=${before}` : '';
  try {
    const response = await fetch(`/api/posts${query}`, { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(await errorMessage(response));
    const page = await response.json();
    if (!before) list.replaceChildren();
    list.append(...page.posts.map(renderPost));
    next = page.next;
    more.hidden = next === null;
    listStatus.textContent = list.children.length === 0 ? 'No posts yet.' : '';
  } catch (error) {
    listStatus.textContent = `Posts are unavailable right now (${error.message}).`;
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  formStatus.textContent = 'Posting…';
  try {
    const response = await fetch('/api/posts', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ author: data.get('author'), body: data.get('body') }),
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    const post = await response.json();
    list.prepend(renderPost(post));
    listStatus.textContent = '';
    form.elements.namedItem('body').value = '';
    formStatus.textContent = 'Posted.';
  } catch (error) {
    formStatus.textContent = `Not posted: ${error.message}`;
  }
});

more.addEventListener('click', () => loadPosts(next));
loadPosts();
